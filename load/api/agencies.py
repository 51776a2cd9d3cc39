"""Agencies on the API's scaled clock: when they pick a request up, act, and answer.

Nothing runs in the background: when a query or a control is made, every agency's timeline
for it is drawn and stored, and the API shows what the clock has reached. An agency picks a
request up at its next polling instant inside its polling window (banks every 30 minutes
around the clock, land registries every 20 minutes on weekdays 08:00-18:00), then:

- a query: processes it (the agency's ``processing_days``) and its answer reaches the court
  after the link's ``latency_days``. A record is wrong or stale with the link's
  ``error_probability``; it reports a balance that is off, and a freeze against it fails.
- a control (``[api] controls = "scenario"``): acts after the link's
  ``control_latency_days`` (plus ``[freeze.hard] extra_delay_days`` for the asset type),
  fails with ``[freeze.hard] failure_probability``, finds another authority's freeze first
  (a waiting freeze, 轮候) with ``[freeze.waiting] probability``, released after
  ``release_days`` having taken all but ``remaining_share``; its answer reaches the court
  after the link's ``latency_days``.

In fault mode (``[api.faults]``) an answer is late past the API's deadline (``deadline_days``
after pick-up), lost, or sent twice, with the given chances; the API says ``unknown`` while
it waits past the deadline. These are the same scenario fields the simulation uses.

Every draw is keyed by the world's seed, the query or control and the agency or asset
(:func:`sim.streams.keyed_sample`), so the same seed gives the same answers whatever the
order requests arrive in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.model.calendar import WorkingTime
from sim.model.streams import key_of, keyed_sample, keyed_uniform
from sim.model.topology import Topology
from sim.scenario.schema import AssetType, ChannelName, Link, Scenario

NEVER = 1e18  # a simulated time no clock reaches: an answer that was lost
PROCESS, ANSWER, WRONG, OFF, FAULT, TWICE = (key_of(k) for k in ("0", "1", "2", "3", "4", "5"))
ACT, HARD, DELAY, WAIT, RELEASE, SHARE = (
    key_of(k) for k in ("act", "hard", "delay", "waiting", "release", "share")
)
CONTROL = key_of("control")


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
    answer_at: float  # its agency's answer arrives (NEVER: lost)
    balance_fen: int  # as the record says (off when the record is wrong)
    wrong: bool
    online_freeze: bool
    online_deduct: bool


@dataclass(frozen=True, slots=True)
class Reply:
    """When an agency picked a request up, when its answer arrives, when the API gives up."""

    pickup: float
    reply: float | None  # None: lost
    deadline: float | None  # None: no fault mode, the API waits for ever
    duplicate: float | None = None  # a second copy of the answer arrives then

    def final(self) -> float:
        """When the API knows how it ended: the answer, or the deadline (unknown)."""
        ends = [t for t in (self.reply, self.deadline) if t is not None]
        return min(ends) if ends else NEVER


@dataclass(frozen=True, slots=True)
class Answers:
    answer_at: float  # when every agency has answered or been given up on
    replies: dict[str, Reply]
    findings: list[Finding]


@dataclass(frozen=True, slots=True)
class ControlTimeline:
    """How an agency will carry out one control (scenario mode)."""

    reply: Reply
    act: float  # it acts: the money moves
    fails: bool  # it could not carry the control out
    waiting_until: float | None  # a freeze behind another authority's, released then
    remaining_share: float  # what that authority leaves of the asset


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
        self.link_of = {
            (region, channel, agency): link
            for (region, channel), pairs in self.links.items()
            for agency, link in pairs
        }
        self.preference = {
            region: {c.value: i for i, c in enumerate(spec.control_preference)}
            for region, spec in scenario.regions.items()
        }
        freeze = scenario.freeze
        self.hard_p = {
            a.value: freeze.hard.failure_probability.get(a.value, 0.0) for a in AssetType
        }
        self.hard_delay = {
            a.value: freeze.hard.extra_delay_days.get(a.value, 0.0) for a in AssetType
        }
        self.waiting_p = {a.value: freeze.waiting.probability.get(a.value, 0.0) for a in AssetType}
        self.release_days = freeze.waiting.release_days
        self.remaining_share = freeze.waiting.remaining_share
        self.faults = scenario.api.faults
        f = self.faults
        self.fault_mode = (
            f.timeout_probability + f.lost_reply_probability + f.duplicate_reply_probability > 0
        )

    def covers(self, region: str, channel: str) -> bool:
        return bool(self.links[(region, channel)])

    def reply(self, pickup: float, answered: float, *keys: int) -> Reply:
        """The answer of an agency that picked a request up at ``pickup`` and would answer
        at ``answered``, after the faults of fault mode."""
        if not self.fault_mode:
            return Reply(pickup, answered, None)
        f = self.faults
        deadline = pickup + f.deadline_days
        u = keyed_uniform(self.seed, *keys, FAULT)
        reply: float | None = answered
        if u < f.timeout_probability:
            reply = max(answered, deadline) + (answered - pickup)  # as late again
        elif u < f.timeout_probability + f.lost_reply_probability:
            reply = None
        duplicate = None
        if reply is not None and keyed_uniform(self.seed, *keys, TWICE) < (
            f.duplicate_reply_probability
        ):
            duplicate = reply + 0.01
        return Reply(pickup, reply, deadline, duplicate)

    def answer(
        self, region: str, channel: str, query_id: int, sent: float, held: list[HeldAsset]
    ) -> Answers:
        """The answers to query ``query_id``, sent at ``sent`` from ``region`` over ``channel``,
        about a debtor holding ``held``."""
        last = sent
        out: list[Finding] = []
        replies: dict[str, Reply] = {}
        for agency, link in self.links[(region, channel)]:
            calendar, interval = self.polling[agency]
            key = key_of(agency)
            picked = calendar.next_poll(sent, interval)
            done = picked + keyed_sample(self.processing[agency], self.seed, query_id, key, 0)
            answered = done + keyed_sample(link.latency_days, self.seed, query_id, key, 1)
            reply = replies[agency] = self.reply(picked, answered, query_id, key)
            last = max(last, reply.final())
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
                        NEVER if reply.reply is None else reply.reply,
                        balance,
                        wrong,
                        link.online_freeze,
                        link.online_deduct,
                    )
                )
        return Answers(last, replies, out)

    def control(
        self,
        region: str,
        channel: str,
        agency: str,
        asset_type: str,
        action: str,
        control_id: int,
        made: float,
    ) -> ControlTimeline:
        """How ``agency`` carries out control ``control_id`` of ``action``, made at ``made``
        over ``channel`` from ``region``, on an asset of ``asset_type``."""
        link = self.link_of[(region, channel, agency)]
        calendar, interval = self.polling[agency]
        keys = (CONTROL, control_id)
        pickup = calendar.next_poll(made, interval)
        act = pickup + keyed_sample(link.control_latency_days, self.seed, *keys, ACT)
        delay = self.hard_delay[asset_type]
        if delay > 0:
            act += -delay * math.log1p(-keyed_uniform(self.seed, *keys, DELAY))
        answered = act + keyed_sample(link.latency_days, self.seed, *keys, ANSWER)
        moves_money = action in ("freeze", "deduct")
        hard = self.hard_p[asset_type]
        fails = moves_money and hard > 0 and keyed_uniform(self.seed, *keys, HARD) < hard
        waiting_until = None
        share = 1.0
        p_wait = self.waiting_p[asset_type]
        first = action == "freeze" and not fails and p_wait > 0
        if first and keyed_uniform(self.seed, *keys, WAIT) < p_wait:
            # another authority froze it first (轮候)
            waiting_until = act + keyed_sample(self.release_days, self.seed, *keys, RELEASE)
            share = min(1.0, keyed_sample(self.remaining_share, self.seed, *keys, SHARE))
        reply = self.reply(pickup, answered, *keys)
        return ControlTimeline(reply, act, fails, waiting_until, share)
