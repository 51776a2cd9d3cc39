"""Freezes: controls against the records a query returned.

An online freeze, ordered in the court's office hours, is picked up at the agency's next
poll and takes hold after the link's control latency in the agency's staff hours; one the
channel cannot do online is done by an officer in person (the case pays for the officer's
stint before this is called). A control fails (``freeze_failed``) when the record was wrong
or stale, or, for assets that are hard to freeze (securities, funds, insurance), with an
extra chance; it is then redone after an officer's rework and a fresh query.

A freeze holds for the period of its asset type and region (deposits 1 year, movables 2,
real estate 3; the provident fund as the region says) and must be renewed before it expires.
When another authority froze the asset first, ours waits in line (轮候) and takes effect only
when the earlier freeze is released, on what that authority left; its period runs from then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from sim.model.debtors import Asset
from sim.model.network import Finding
from sim.model.streams import inverse, key_of, keyed_uniform
from sim.scenario.schema import AssetType, Scenario

# keys of the case's draws (Final: compiled code reads C variables, not the module's dict)
DAYS_PER_YEAR: Final = 365.0
HARD: Final = key_of("hard")
WAITING: Final = key_of("waiting")
FREEZE: Final = key_of("freeze")
STALE: Final = key_of("stale")
RELEASE: Final = key_of("release")
SHARE: Final = key_of("share")


@dataclass(slots=True, init=False)  # its __init__ below, compiled (a dataclass's is Python)
class Hold:
    """A freeze that took hold of an asset."""

    finding: Finding
    at: float  # when our freeze was registered
    effective: float  # when it bites (later than ``at`` for a waiting freeze)
    expires: float  # current expiry (moved by renewals)
    period: float  # freeze period, in days
    available: float  # money the asset can give this case (after any earlier authority)
    waiting: bool
    ordered: float  # when the court sent an online control (NaN: in person)
    deduct_ordered: float  # ...and an online deduction, until it is done
    pending: int  # the case's money items still to come from it (its Realisation counts)

    def __init__(
        self,
        finding: Finding,
        at: float,
        effective: float,
        expires: float,
        period: float,
        available: float,
        waiting: bool,
        ordered: float = math.nan,
        deduct_ordered: float = math.nan,
    ) -> None:
        self.finding = finding
        self.at = at
        self.effective = effective
        self.expires = expires
        self.period = period
        self.available = available
        self.waiting = waiting
        self.ordered = ordered
        self.deduct_ordered = deduct_ordered
        self.pending = 0

    @property
    def asset(self) -> Asset:
        return self.finding.asset


@dataclass(slots=True, init=False)  # its __init__ below, compiled
class Failure:
    """A control that failed at time ``at``."""

    finding: Finding
    at: float
    ordered: float  # when the court sent an online control (NaN: in person)

    def __init__(self, finding: Finding, at: float, ordered: float = math.nan) -> None:
        self.finding = finding
        self.at = at
        self.ordered = ordered


def needs_officer(finding: Finding) -> bool:
    return not finding.via.online_freeze


class FreezeDesk:
    """Freeze rules and their random draws, shared by the cases of one replication."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        spec = scenario.freeze
        self.renew_lead_days: float = spec.renew_lead_days  # a compiled attribute
        self.release = inverse(spec.waiting.release_days)
        self.remaining_share = inverse(spec.waiting.remaining_share)
        self.waiting_p = {a: spec.waiting.probability.get(a.value, 0.0) for a in AssetType}
        self.hard_p = {a: spec.hard.failure_probability.get(a.value, 0.0) for a in AssetType}
        self.hard_delay = {a: spec.hard.extra_delay_days.get(a.value, 0.0) for a in AssetType}
        self.period_days = {
            (r, a): scenario.freeze_years(r, a) * DAYS_PER_YEAR
            for r in scenario.regions
            for a in AssetType
        }

    def apply(
        self,
        region: str,
        targets: list[Finding],
        started: float,
        officer_done: float,
        seed: int,
        attempt: int,
    ) -> tuple[list[Hold], list[Failure]]:
        """Outcomes of freezing every target: online ones from ``started`` plus the control
        latency, in-person ones when the officer's stint ended at ``officer_done``. Every
        draw is keyed by the case's ``seed``, the asset and the ``attempt`` (see
        :func:`sim.model.streams.keyed_uniform`)."""
        holds: list[Hold] = []
        failures: list[Failure] = []
        for f in targets:
            asset_type = f.asset.asset_type
            index = f.asset.index
            if needs_officer(f):
                at, ordered = officer_done, math.nan
            else:
                at, ordered = f.via.control_done(started, seed, FREEZE, index, attempt), started
            delay = self.hard_delay[asset_type]
            if delay > 0:
                at += -delay * math.log1p(-keyed_uniform(seed, STALE, index, attempt))
            hard = self.hard_p[asset_type]
            if f.wrong or (hard > 0 and keyed_uniform(seed, HARD, index, attempt) < hard):
                failures.append(Failure(f, at, ordered))
                continue
            period = self.period_days[(region, asset_type)]
            value = f.asset.value_yuan
            effective, waiting = at, False
            p_wait = self.waiting_p[asset_type]
            if p_wait > 0 and keyed_uniform(seed, WAITING, index, attempt) < p_wait:
                waiting = True
                effective = at + self.release.at(keyed_uniform(seed, RELEASE, index, attempt))
                share = self.remaining_share.at(keyed_uniform(seed, SHARE, index, attempt))
                value *= min(1.0, share)
            # a freeze's period runs from when it takes effect (a waiting one's too)
            holds.append(
                Hold(f, at, effective, effective + period, period, value, waiting, ordered)
            )
        return holds, failures
