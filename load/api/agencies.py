"""Agencies answering on a scaled clock: when a query's answers arrive, and what they say.

The API runs its own clock: one simulated day lasts ``time_scale`` seconds of wall time,
counted from the moment the world was created (kept in the database, so every worker reads
the same clock). A query is answered lazily, as the simulation's network answers it: each
agency the channel reaches from the court's region picks the request up at its next polling
instant inside its polling window (banks every 30 minutes around the clock, land registries
every 20 minutes on weekdays 08:00-18:00), processes it, and its answer reaches the court
after the link's latency. Nothing runs in the background: a query's answer times are fixed
when it is sent, and ``GET /v1/queries/{id}`` shows the findings whose time has come.

Every draw (processing time, latency, whether a record is wrong) is keyed by the world's
seed, the query and the agency or asset (:func:`sim.streams.keyed_sample`), so the same
seed gives the same answers whatever the order requests arrive in. A record is wrong or
stale with the link's ``error_probability`` (local bank records often disagree with the
central channel's); it reports a balance that is off, and a freeze against it fails.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sim.model.calendar import CalendarYears, WorkingTime
from sim.model.streams import key_of, keyed_sample, keyed_uniform
from sim.model.topology import Topology
from sim.scenario.schema import ChannelName, Link, Scenario

SECONDS_PER_DAY = 86_400.0


class ScaledClock:
    """Simulated time in days since ``start_date`` 00:00, running ``1/time_scale`` days a
    second of wall time from ``epoch`` (a Unix time) onwards, starting at ``start_day``."""

    def __init__(
        self, start_date: dt.date, epoch: float, time_scale: float, start_day: float
    ) -> None:
        self.start = dt.datetime.combine(start_date, dt.time())
        self.epoch = epoch
        self.time_scale = time_scale
        self.start_day = start_day
        self.years = CalendarYears(start_date, years=200)

    def now(self) -> float:
        return self.start_day + (time.time() - self.epoch) / self.time_scale

    def iso(self, t: float) -> str:
        """The simulated moment ``t`` as an ISO date-time (to the second)."""
        return (self.start + dt.timedelta(days=t)).isoformat(timespec="seconds")

    def year_of(self, t: float) -> int:
        return self.years.year_of(t)


@dataclass(frozen=True, slots=True)
class HeldAsset:
    """An asset of the debtor as a query sees it: its record and its free balance."""

    asset_id: str
    asset_type: str
    agency: str | None
    balance_fen: int


@dataclass(frozen=True, slots=True)
class Finding:
    asset_id: str
    asset_type: str
    agency: str
    channel: str
    answer_at: float
    balance_fen: int  # as the record says (off when the record is wrong)
    wrong: bool
    online_freeze: bool
    online_deduct: bool


@dataclass(frozen=True, slots=True)
class Answers:
    answer_at: float  # when the last agency's answer arrives
    findings: list[Finding]


class Agencies:
    """The agencies of one scenario as the API's clock sees them."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.seed = seed
        topology = Topology(scenario)
        self.polling = {
            name: (
                WorkingTime(spec.polling, scenario.start_date),
                spec.poll_interval_minutes / 1440,
            )
            for name, spec in scenario.agencies.items()
        }
        self.processing = {name: spec.processing_days for name, spec in scenario.agencies.items()}
        self.links: dict[tuple[str, str], list[tuple[str, Link]]] = {
            (region, channel.value): topology.agencies(region, channel)
            for region in scenario.regions
            for channel in ChannelName
        }
        self.preference = {
            region: {c.value: i for i, c in enumerate(spec.control_preference)}
            for region, spec in scenario.regions.items()
        }

    def covers(self, region: str, channel: str) -> bool:
        return bool(self.links[(region, channel)])

    def answer(
        self, region: str, channel: str, query_id: int, sent: float, held: list[HeldAsset]
    ) -> Answers:
        """The answers to query ``query_id``, sent at ``sent`` from ``region`` over ``channel``,
        about a debtor holding ``held``."""
        last = sent
        out: list[Finding] = []
        for agency, link in self.links[(region, channel)]:
            calendar, interval = self.polling[agency]
            key = key_of(agency)
            picked = calendar.next_poll(sent, interval)
            done = picked + keyed_sample(self.processing[agency], self.seed, query_id, key, 0)
            answered = done + keyed_sample(link.latency_days, self.seed, query_id, key, 1)
            last = max(last, answered)
            for a in held:
                if a.agency != agency:
                    continue
                akey = key_of(a.asset_id)
                wrong = keyed_uniform(self.seed, query_id, akey, 2) < link.error_probability
                balance = a.balance_fen
                if wrong:  # a stale or mismatched record: the balance it reports is off
                    balance = round(balance * (0.5 + keyed_uniform(self.seed, query_id, akey, 3)))
                out.append(
                    Finding(
                        a.asset_id,
                        a.asset_type,
                        agency,
                        channel,
                        answered,
                        balance,
                        wrong,
                        link.online_freeze,
                        link.online_deduct,
                    )
                )
        return Answers(last, out)
