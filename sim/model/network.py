"""The network query: requests over channels, agencies that poll and answer, records that
may be wrong.

A court's query goes out over every channel its region uses, one request per agency the
channel reaches there. An agency pulls requests from the hub at its polling instants
(inside its polling window), processes them first come first served on ``servers`` desks,
and its answer reaches the court after the link's answer latency.

Because pick-up times are a non-decreasing function of submission times, and requests are
submitted as simulated time advances, the agency queue is computed exactly with the
multi-server FCFS recursion (each request starts when it is picked up or when the earliest
desk frees, whichever is later) at submission, without a SimPy process per request. Each
returned record is wrong or stale with the link's ``error_probability``; a control against
a wrong record fails and must be redone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from sim.errors import SplitNotExact
from sim.model.calendar import WorkingTime
from sim.model.debtors import Asset
from sim.model.free_times import FreeTimes, Servers
from sim.model.streams import Streams, inverse, key_of, keyed_uniform, sampler, uniforms
from sim.model.topology import Topology
from sim.scenario.holidays import load_holidays
from sim.scenario.schema import Agency, AssetType, Link, Scenario


class AgencyDesk:
    """One agency's intake: polling on its calendar and FCFS processing on its desks."""

    def __init__(
        self,
        name: str,
        spec: Agency,
        scenario: Scenario,
        rng: np.random.Generator,
        manual: np.random.Generator | None = None,
    ):
        self.name = name
        self.holds = frozenset(spec.holds)
        holidays = load_holidays(scenario.holidays)
        self.polling = WorkingTime(spec.polling, scenario.start_date, holidays)
        self.office = WorkingTime(spec.office, scenario.start_date, holidays)
        self.manual_share = spec.manual_share
        self.manual = None
        if manual is not None and spec.manual_share > 0:
            self.manual = uniforms(manual)
            self.manual_days = sampler(spec.manual_days, manual.spawn(1)[0])
        self.poll_interval_days = spec.poll_interval_minutes / 1440.0
        self.processing = sampler(spec.processing_days, rng)
        self.deadline_days = (
            spec.answer_deadline_hours / 24.0 if spec.answer_deadline_hours is not None else None
        )
        self.desks: Servers = FreeTimes(spec.servers)  # when each desk is next free
        self.last_submitted = 0.0
        self.next_pickup = -1.0  # the polling instant the latest request waits for

    def done_at(self, submitted: float) -> float:
        """When a request submitted at ``submitted`` has been processed."""
        if submitted < self.last_submitted:
            raise ValueError("requests must reach an agency in time order")
        self.last_submitted = submitted
        if submitted <= self.next_pickup:  # no poll between the last request and this one
            pickup = self.next_pickup
        else:
            pickup = self.next_pickup = self.polling.next_poll(submitted, self.poll_interval_days)
        manual = self.manual
        if manual is not None and float(manual()) < self.manual_share:
            # answered by hand by the staff, in their hours (not on the automated desks)
            return self.office.advance(pickup, self.manual_days())
        processing: float = self.processing()  # a float, read unboxed (a draw is Any)
        # on the desk free first, at the pickup or when that desk is free, if later
        return self.desks.serve(pickup, processing)


class LinkRuntime:
    """A resolved link (region, channel, agency) with its answer latency draws."""

    def __init__(self, channel: str, desk: AgencyDesk, link: Link, streams: Streams, region: str):
        self.channel = channel
        self.desk = desk
        self.link = link
        key = (region, channel, desk.name)
        self.latency = sampler(link.latency_days, streams.rng("latency", *key))
        self.error_probability = link.error_probability
        # the link's terms read at each request, held as compiled attributes (the
        # scenario's Link is a pydantic model: read by name)
        self.coverage_share: float = link.coverage_share
        self.online_freeze: bool = link.online_freeze
        self.online_deduct: bool = link.online_deduct
        self._control_latency = inverse(link.control_latency_days)
        self.key = key_of(f"{channel}/{desk.name}")  # for the case's keyed draws
        self.agency = -1  # the agency's number in its Network (set by the Network)

    def control_latency(self, seed: int, what: int, index: int, step: int | None = None) -> float:
        """Working days for an online control over this link to take effect: the case's
        draw, keyed by the case's ``seed``, the link, ``what`` the control does, to the
        asset of ``index``, and its ``step`` (an attempt, a renewal) where it has one."""
        if step is None:
            u = keyed_uniform(seed, self.key, what, index)
        else:
            u = keyed_uniform(seed, self.key, what, index, step)
        return self._control_latency.at(u)

    def control_done(
        self, ordered: float, seed: int, what: int, index: int, step: int | None = None
    ) -> float:
        """When an online control ordered at ``ordered`` takes effect: the agency picks it
        up at its next poll and carries it out in its staff hours (the latency as in
        :meth:`control_latency`)."""
        desk = self.desk
        picked = desk.polling.next_poll(ordered, desk.poll_interval_days)
        return desk.office.advance(picked, self.control_latency(seed, what, index, step))

    def reaches(self, seed: int, asset: Asset) -> bool:
        """Does this link reach the record of ``asset`` (its coverage share; keyed)?"""
        share = self.coverage_share
        return share >= 1 or keyed_uniform(seed, COVERED, self.key, asset.index) < share

    def wrong(self, seed: int, asset: Asset, reworks: int) -> bool:
        """Is the record of ``asset`` this link returns wrong or stale (its error share)? A
        draw keyed by the case's ``seed`` and its rework round: same case, same records."""
        return keyed_uniform(seed, WRONG, self.key, asset.index, reworks) < self.error_probability


@dataclass(slots=True, init=False)  # its __init__ below, compiled (a dataclass's is Python)
class Finding:
    """One record of an asset, returned over one link."""

    asset: Asset
    via: LinkRuntime
    answered: float
    wrong: bool

    def __init__(self, asset: Asset, via: LinkRuntime, answered: float, wrong: bool) -> None:
        self.asset = asset
        self.via = via
        self.answered = answered
        self.wrong = wrong


COVERED: Final = key_of("covered")
WRONG: Final = key_of("wrong record")


@dataclass(slots=True, init=False)  # its __init__ below, compiled
class QueryResult:
    """The requests sent together at one time, and what came back."""

    sent: float
    last: float  # when the last answer arrived
    findings: list[Finding]
    requests: dict[str, int]  # requests by channel
    with_deadline: int  # requests to agencies with an answer deadline
    late: int  # of those, answered after the deadline
    answers: list[tuple[LinkRuntime, float, float]] | None  # (link, answered, value found)
    # in a split replication (sim/model/answers.py): requests not answered yet, and the case
    # and what it waits on (itself, or a process's Wake) until the last answer is in
    outstanding: int
    case: Any
    waiter: Any

    def __init__(
        self,
        sent: float,
        last: float,
        findings: list[Finding],
        requests: dict[str, int],
        with_deadline: int,
        late: int,
        answers: list[tuple[LinkRuntime, float, float]] | None,
    ) -> None:
        self.sent = sent
        self.last = last
        self.findings = findings
        self.requests = requests
        self.with_deadline = with_deadline
        self.late = late
        self.answers = answers
        self.outstanding = 0
        self.case = None
        self.waiter = None


class Asker:
    """Where a region's requests go when the agencies' desks are in another process (a
    replication split by region: :class:`sim.model.answers.Answers`)."""

    def ask(self, agency: int, now: float, result: QueryResult, latency: float,
            deadline: float, first: int, last: int) -> None:  # fmt: skip
        """A request sent at ``now`` to the agency numbered ``agency``, for ``result``
        (its findings ``first`` to ``last``), with the link's ``latency`` and the agency's
        answer ``deadline`` in days."""
        raise NotImplementedError


class Network:
    """The query side of the network for every region of a scenario."""

    def __init__(self, scenario: Scenario, topology: Topology, streams: Streams) -> None:
        self.desks = {
            name: AgencyDesk(
                name,
                spec,
                scenario,
                streams.rng("agency", name),
                streams.rng("agency", name, "manual"),
            )
            for name, spec in scenario.agencies.items()
        }
        # agencies by number: what a query holds for each is a list's item, not a dict's
        number = {name: k for k, name in enumerate(self.desks)}
        self.agencies = len(number)
        self.held_by: dict[AssetType, int] = {
            a: number[name] for name, spec in scenario.agencies.items() for a in spec.holds
        }
        self.links: dict[str, list[LinkRuntime]] = {}
        self.requests: dict[str, dict[str, int]] = {}
        self.with_deadline: dict[str, int] = {}
        for region in scenario.regions:
            runtimes = []
            for channel in topology.channels_used(region):
                for agency, link in topology.agencies(region, channel):
                    via = LinkRuntime(channel, self.desks[agency], link, streams, region)
                    via.agency = number[agency]
                    runtimes.append(via)
            self.links[region] = runtimes
            counts: dict[str, int] = {}
            for via in runtimes:
                counts[via.channel] = counts.get(via.channel, 0) + 1
            self.requests[region] = counts
            self.with_deadline[region] = sum(v.desk.deadline_days is not None for v in runtimes)
        # answers served in another process (a split replication), or None: served here
        self.answers: Asker | None = None

    def query(
        self,
        region: str,
        assets: tuple[Asset, ...],
        now: float,
        seed: int,
        reworks: int = 0,
        detail: bool = False,
    ) -> QueryResult:
        """The full network query of a case: every agency over every channel in use.

        Whether the record a link returns is wrong is a draw of the case's own (keyed by its
        ``seed``, the link, the asset and the case's ``reworks`` so far), so the same case
        meets the same records in every scenario. A link reaches the record of an asset with
        its coverage share (a draw keyed by the case's ``seed``). With ``detail``, every
        request's answer is listed too (for the event log)."""
        held: list[list[Asset] | None] = [None] * self.agencies  # by agency number
        for a in assets:
            k = self.held_by.get(a.asset_type, -1)
            if k >= 0:
                mine = held[k]
                if mine is None:
                    mine = held[k] = []
                mine.append(a)
        pairs = []
        for via in self.links[region]:
            mine = held[via.agency]
            if mine and via.coverage_share < 1:
                mine = [a for a in mine if via.reaches(seed, a)]
            pairs.append((via, mine))
        return self._send(
            pairs, now, seed, reworks, detail, self.requests[region], self.with_deadline[region]
        )

    def requery(
        self,
        findings: list[Finding],
        now: float,
        seed: int,
        reworks: int,
        detail: bool = False,
    ) -> QueryResult:
        """Ask again, over the same links, about assets whose records were wrong: one
        request per link, covering every asset it is asked about."""
        asked: dict[int, tuple[LinkRuntime, list[Asset]]] = {}
        for f in findings:
            asked.setdefault(id(f.via), (f.via, []))[1].append(f.asset)
        pairs = list(asked.values())
        requests: dict[str, int] = {}
        for via, _ in pairs:
            requests[via.channel] = requests.get(via.channel, 0) + 1
        with_deadline = sum(via.desk.deadline_days is not None for via, _ in pairs)
        return self._send(pairs, now, seed, reworks, detail, requests, with_deadline)

    def _send(
        self,
        pairs: Sequence[tuple[LinkRuntime, list[Asset] | None]],
        now: float,
        seed: int,
        reworks: int,
        detail: bool,
        requests: dict[str, int],
        with_deadline: int,
    ) -> QueryResult:
        if self.answers is not None:
            return self._defer(self.answers, pairs, now, seed, reworks, requests, with_deadline)
        findings: list[Finding] = []
        answers: list[tuple[LinkRuntime, float, float]] | None = [] if detail else None
        last = now
        late = 0
        for via, mine in pairs:
            desk = via.desk
            latency: float = via.latency()  # a float, read unboxed (a draw is Any)
            answered = desk.done_at(now) + latency
            if answered > last:
                last = answered
            deadline = desk.deadline_days
            if deadline is not None and answered - now > deadline:
                late += 1
            if mine:
                check = via.error_probability > 0
                for a in mine:
                    findings.append(
                        Finding(a, via, answered, check and via.wrong(seed, a, reworks))
                    )
            if answers is not None:
                answers.append((via, answered, sum(a.value_yuan for a in mine) if mine else 0.0))
        return QueryResult(now, last, findings, requests, with_deadline, late, answers)

    @staticmethod
    def _defer(
        awaiting: Asker,
        pairs: Sequence[tuple[LinkRuntime, list[Asset] | None]],
        now: float,
        seed: int,
        reworks: int,
        requests: dict[str, int],
        with_deadline: int,
    ) -> QueryResult:
        """:meth:`_send` with the desks in another process: the same draws, in the same
        order, and the answers awaited (``outstanding``; :mod:`sim.model.answers`)."""
        findings: list[Finding] = []
        result = QueryResult(now, now, findings, requests, with_deadline, 0, None)
        for via, mine in pairs:
            desk = via.desk
            latency: float = via.latency()
            first = len(findings)
            if mine:
                check = via.error_probability > 0
                for a in mine:
                    findings.append(
                        Finding(a, via, math.nan, check and via.wrong(seed, a, reworks))
                    )
            deadline = math.inf if desk.deadline_days is None else desk.deadline_days
            awaiting.ask(via.agency, now, result, latency, deadline, first, len(findings))
        result.outstanding = len(pairs)
        return result


def serve_in_order(
    desks: list[AgencyDesk], agencies: list[int], sent: list[float], origins: list[int]
) -> list[float]:
    """When each request is done at its agency, serving them in the order given (the order
    they were sent, across the parts of a split replication: :mod:`sim.engine.split`); a
    request is the number of its agency's desk, the time it was sent, and the part that
    sent it. Two parts' requests to one agency at one instant are refused: which came first
    is what one process's order of events would decide, and nothing here knows it."""
    last_sent = [-math.inf] * len(desks)
    last_origin = [-1] * len(desks)
    done = [0.0] * len(sent)
    for k in range(len(sent)):
        agency = agencies[k]
        at = sent[k]
        origin = origins[k]
        if at == last_sent[agency] and origin != last_origin[agency]:
            raise SplitNotExact(
                f"two parts sent to {desks[agency].name} at the same instant ({at!r}): "
                "their order is one process's to decide; run this replication unsplit"
            )
        last_sent[agency] = at
        last_origin[agency] = origin
        done[k] = desks[agency].done_at(at)
    return done


def preferred(findings: list[Finding], preference: dict[str, int]) -> list[Finding]:
    """One finding per asset: one over a channel that can freeze it online if any (no
    officer need travel), then the region's most preferred channel."""
    # a finding's rank, lower first: online freeze or not, then the preference (ranks from
    # 0), as one integer
    offline = 1
    for r in preference.values():
        if r >= offline:
            offline = r + 1
    best: dict[int, Finding] = {}
    ranks: dict[int, int] = {}
    for f in findings:
        via = f.via
        rank = preference[via.channel] + (0 if via.online_freeze else offline)
        index = f.asset.index
        held = ranks.get(index)
        if held is None or rank < held:
            best[index] = f
            ranks[index] = rank
    return [best[k] for k in sorted(best)]
