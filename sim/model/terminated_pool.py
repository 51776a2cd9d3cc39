"""The 终本 pool: cases terminated for now, re-queried, and restored when assets appear.

A case closed 终本 (terminated for now: nothing realisable after the investigation, and more
than 3 months after filing) joins the pool with chance ``requery_share`` (the published
pushes cover fewer debtors than five years of 终本 cases: the rest are never re-queried).
Every ``requery_interval_days`` (6 months) for ``requery_years`` (5 years) the network
checks the debtor again (a push). At a push the debtor holds new assets with
``emergence_probability`` (drawn from the scenario's debtor model); those the network
reaches are a lead; a lead whose value is at least ``restore_min_share`` of what is still
owed is worth restoring, and the court acts on it with ``followup_probability``: the case
is restored (恢复执行) as a new matter, which goes through enforcement again. At a push a
debtor may also pay what is still owed (``voluntary_payment_probability``: credit
punishment bites); the case is then restored and closes as performed. Restored cases are
filed in the court's office hours.

The pool is kept in day buckets and checked once a simulated day, so millions of debtors
cost a few list operations each, not a SimPy process each. Pushes are automatic batch
checks; they are counted (``requery_pushes_per_year``) but do not queue at agency desks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from typing import Any, NamedTuple, Protocol

import numpy as np
import simpy

from sim.model.debtors import Asset
from sim.model.events import EventSink
from sim.model.region import RegionRuntime
from sim.model.streams import Streams
from sim.model.topology import Topology
from sim.scenario.schema import SOLD_ASSETS, Scenario


class PoolWorld(Protocol):
    """What the pool uses of the world it runs in (:class:`sim.model.world.World`)."""

    env: simpy.Environment
    scenario: Scenario
    topology: Topology

    @property
    def regions(self) -> Mapping[str, RegionRuntime]: ...

    events: EventSink

    def new_debtor_id(self) -> int: ...

    @property  # restore(region, debtor_id, owed, assets, pays): 恢复执行, a new matter
    def restore(self) -> Callable[[str, int, float, tuple[Asset, ...], bool], object]: ...


class Member(NamedTuple):
    region: str
    debtor_id: int
    owed: float  # NaN for debtors in the pool at t=0: drawn from the region's claims
    pushes_left: int
    next_push: float


class TerminatedPool:
    def __init__(self, w: PoolWorld, streams: Streams) -> None:
        self.w = w
        spec = w.scenario.terminated_pool
        self.interval = spec.requery_interval_days
        self.pushes = max(1, round(spec.requery_years * 365 / self.interval))
        self.emergence = spec.emergence_probability
        self.restore_share = spec.restore_min_share
        self.followup = spec.followup_probability
        self.rng = streams.rng("pool")
        self.share = spec.requery_share
        self.taken = streams.rng("pool", "share")  # its own stream: the share moves nothing else
        self.pays = spec.voluntary_payment_probability
        self.pays_rng = streams.rng("pool", "pays")
        self.buckets: dict[int, list[Member]] = {}
        self.size = 0
        self.reachable = {r: w.topology.reachable(r) for r in w.scenario.regions}
        sale = w.scenario.sale
        self.sale_ratio = {
            "real_estate": sale.real_estate.start_price_ratio,
            "vehicle": sale.vehicle.start_price_ratio,
        }
        for name, region in w.scenario.regions.items():
            n = region.initial_terminated_pool
            if n:
                left = self.rng.integers(1, self.pushes + 1, n)
                first = self.rng.uniform(0, self.interval, n)
                for k in range(n):
                    self._add(
                        Member(name, w.new_debtor_id(), math.nan, int(left[k]), float(first[k]))
                    )

    def _add(self, m: Member) -> None:
        self.buckets.setdefault(math.ceil(m.next_push), []).append(m)
        self.size += 1

    def enter(self, region: str, debtor_id: int, owed: float, at: float) -> None:
        """A case closed 终本 at ``at``: its debtor is re-queried from then on (when the
        re-query takes it in: ``requery_share``)."""
        if self.share < 1 and self.taken.random() >= self.share:
            return
        self._add(Member(region, debtor_id, owed, self.pushes, at + self.interval))

    def run(self) -> Generator[Any, Any, None]:
        env = self.w.env
        while True:
            self._check(math.floor(env.now))
            yield env.timeout(1)

    def _check(self, day: int) -> None:
        members = self.buckets.pop(day, None)
        if not members:
            return
        w = self.w
        now = w.env.now
        self.size -= len(members)
        emerged = (
            set(np.flatnonzero(self.rng.random(len(members)) < self.emergence).tolist())
            if self.emergence > 0
            else ()
        )
        paying = (
            set(np.flatnonzero(self.pays_rng.random(len(members)) < self.pays).tolist())
            if self.pays > 0
            else ()
        )
        leads = restored = 0
        for i, m in enumerate(members):
            if i in paying:  # credit punishment bites: the debtor pays what is still owed
                region = w.regions[m.region]
                owed = m.owed if not math.isnan(m.owed) else region.draw_pool_claim()
                w.restore(m.region, m.debtor_id, owed, (), True)
                continue
            if i in emerged:
                region = w.regions[m.region]
                assets = region.pool_debtors.holdings()
                found = [a for a in assets if a.asset_type in self.reachable[m.region]]
                if found:
                    leads += 1
                    owed = m.owed if not math.isnan(m.owed) else region.draw_pool_claim()
                    worth = self._realisable(found) >= self.restore_share * owed
                    if worth and (self.followup >= 1 or self.rng.random() < self.followup):
                        restored += 1
                        w.restore(m.region, m.debtor_id, owed, assets, False)
                        continue
            if m.pushes_left > 1:
                self._add(
                    m._replace(pushes_left=m.pushes_left - 1, next_push=m.next_push + self.interval)
                )
        w.events.pushed(now, len(members), leads, restored)

    def _realisable(self, assets: list[Asset]) -> float:
        return sum(
            a.value_yuan * self.sale_ratio[a.asset_type.value]
            if a.asset_type in SOLD_ASSETS
            else a.value_yuan
            for a in assets
        )
