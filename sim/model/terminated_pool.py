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
cost a few array operations each, not a SimPy process each. A bucket holds its members as
packed records (region, debtor, still owed, pushes left, next push: 28 bytes a member, not
the 170 of a tuple of Python objects; one ``struct`` pack a member added, which
``array.append`` on five columns took four times as long to do), and a check reads them
as a numpy record array and moves those pushed again in one vectorised step, in the order
they were in: the same draws meet the same members. Each
region's draws (who has assets again, who pays, who is taken in, who is followed up) come
from streams of its own, for its own members in their order, so a region's pool is the same
whichever regions share the pool (a replication split by region: :mod:`sim.engine.split`).
Pushes are automatic batch checks; they are counted (``requery_pushes_per_year``) but do not queue
at agency desks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from struct import Struct
from typing import Any, Final, Protocol

import numpy as np

from sim.model.clock import Clock
from sim.model.debtors import Asset
from sim.model.events import EventSink
from sim.model.region import RegionRuntime
from sim.model.streams import Draws, Streams, uniforms
from sim.model.topology import Topology
from sim.scenario.schema import SOLD_ASSETS, Scenario


class PoolWorld(Protocol):
    """What the pool uses of the world it runs in (:class:`sim.model.world.World`)."""

    @property
    def env(self) -> Clock: ...

    scenario: Scenario
    topology: Topology

    @property
    def regions(self) -> Mapping[str, RegionRuntime]: ...

    events: EventSink

    def new_debtor_id(self) -> int: ...

    def new_debtor_ids(self, n: int) -> int: ...

    @property  # restore(region, debtor_id, owed, assets, pays): 恢复执行, a new matter
    def restore(self) -> Callable[[str, int, float, tuple[Asset, ...], bool], object]: ...


# a member: its region (an index into the pool's region names), debtor, what is still owed
# (NaN for debtors in the pool at t=0: drawn from the claims), pushes left and next push,
# packed in native byte order; the same record as numpy reads it
_ROW: Final = Struct("=HqdHd")
_pack: Final = _ROW.pack  # a C variable (Final): no look-up by name at each member
RECORD: Final = np.dtype(
    [("region", "=u2"), ("debtor", "=i8"), ("owed", "=f8"), ("left", "=u2"), ("next_push", "=f8")]
)
# the same records as opaque bytes: numpy selects these seven times as fast as records of
# fields (a copy of the bytes, not field by field)
_RAW: Final = np.dtype((np.void, RECORD.itemsize))
VECTOR_MIN: Final = 64  # members at a check from which moving them as arrays pays


class Bucket:
    """The members due at one day's check, as packed records in the order they came."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows = bytearray()

    def append(self, region: int, debtor: int, owed: float, left: int, next_push: float) -> None:
        self.rows += _pack(region, debtor, owed, left, next_push)

    def extend(self, records: np.ndarray) -> None:
        """Members as a :data:`RECORD` array, after those already here."""
        self.rows += records.tobytes()

    def records(self) -> np.ndarray:
        """The members, as a :data:`RECORD` array (a view of the rows, not a copy)."""
        return np.frombuffer(self.rows, dtype=RECORD)

    def __len__(self) -> int:
        return len(self.rows) // _ROW.size


class TerminatedPool:
    def __init__(self, w: PoolWorld, streams: Streams) -> None:
        self.w = w
        spec = w.scenario.terminated_pool
        # the earliest a case still owing may close (终本) after filing: read at every case
        self.min_days_after_filing: float = spec.min_days_after_filing
        self.interval = spec.requery_interval_days
        self.pushes = max(1, round(spec.requery_years * 365 / self.interval))
        self.emergence = spec.emergence_probability
        self.restore_share = spec.restore_min_share
        self.followup = spec.followup_probability
        # a member's region: its number, an index into the scenario's regions (a world may
        # run some of them: sim/engine/split.py)
        self.names = list(w.scenario.regions)
        # each region's draws from streams of its own, in the order of its own members: the
        # same whichever regions are in the pool beside it
        self.rng: list[np.random.Generator | None] = [None] * len(self.names)
        self.pays_rng: list[np.random.Generator | None] = [None] * len(self.names)
        self.taken: list[Draws | None] = [None] * len(self.names)
        self.share = spec.requery_share
        self.pays = spec.voluntary_payment_probability
        for name in w.regions:
            k = self.names.index(name)
            self.rng[k] = streams.rng("pool", name)
            # its own stream (the share moves nothing else), so drawn in blocks: the same
            # values in the same order as one numpy call a member (some 3,400 instructions)
            self.taken[k] = uniforms(streams.rng("pool", name, "share"))
            self.pays_rng[k] = streams.rng("pool", name, "pays")
        # the number of the one region this world runs, if one (-1: several)
        self.alone = self.names.index(next(iter(w.regions))) if len(w.regions) == 1 else -1
        self.buckets: dict[int, Bucket] = {}
        self.size = 0
        self.reachable = {r: w.topology.reachable(r) for r in w.regions}
        sale = w.scenario.sale
        self.sale_ratio = {
            "real_estate": sale.real_estate.start_price_ratio,
            "vehicle": sale.vehicle.start_price_ratio,
        }
        for name in w.regions:
            n = w.scenario.regions[name].initial_terminated_pool
            if n:
                k = self.names.index(name)
                rng = self._rng(k)
                left = rng.integers(1, self.pushes + 1, n)
                first = rng.uniform(0, self.interval, n)
                self._add_initial(k, w.new_debtor_ids(n), left, first)

    def _rng(self, region: int) -> np.random.Generator:
        rng = self.rng[region]
        assert rng is not None, "a region this world does not run"
        return rng

    def _bucket(self, day: int) -> Bucket:
        bucket = self.buckets.get(day)
        if bucket is None:
            bucket = self.buckets[day] = Bucket()
        return bucket

    def _add(self, region: int, debtor: int, owed: float, left: int, next_push: float) -> None:
        self._bucket(math.ceil(next_push)).append(region, debtor, owed, left, next_push)
        self.size += 1

    def _add_initial(self, region: int, first_id: int, left: np.ndarray, first: np.ndarray) -> None:
        """The debtors ``first_id`` on of a region's pool at t=0, due at ``first``: added
        day by day as columns, in the order drawn (as :meth:`_add` would, one by one)."""
        n = len(left)
        days = np.ceil(first).astype(np.int64)
        order = np.argsort(days, kind="stable")  # in each day, the order drawn
        days = days[order]
        records = np.empty(n, RECORD)
        records["region"] = region
        records["debtor"] = np.arange(first_id, first_id + n, dtype=np.int64)[order]
        records["owed"] = math.nan
        records["left"] = left[order]
        records["next_push"] = first[order]
        starts = np.flatnonzero(np.diff(days, prepend=days[0] - 1))
        ends = [*starts[1:].tolist(), n]
        for a, b in zip(starts.tolist(), ends, strict=True):
            self._bucket(int(days[a])).extend(records[a:b])
        self.size += n

    def enter(self, region: RegionRuntime, debtor_id: int, owed: float, at: float) -> None:
        """A case closed 终本 at ``at``: its debtor is re-queried from then on (when the
        re-query takes it in: ``requery_share``)."""
        k = region.number
        if self.share < 1:
            taken = self.taken[k]
            assert taken is not None
            u: float = taken()  # read unboxed (a draw is Any)
            if u >= self.share:
                return
        self._add(k, debtor_id, owed, self.pushes, at + self.interval)

    def run(self) -> Generator[Any, Any, None]:
        env = self.w.env
        while True:
            self._check(math.floor(env.now))
            yield env.wait(1)

    def _check(self, day: int) -> None:
        bucket = self.buckets.pop(day, None)
        if not bucket:
            return
        n = len(bucket)
        self.size -= n
        records = bucket.records()
        emerged, paying = self._draw(records)
        leads = restored = 0
        gone: list[int] = []  # members whose case is restored: no more pushes
        pushed = np.flatnonzero(emerged | paying)
        if len(pushed):
            for i, (region, debtor, owed, _, _) in zip(
                pushed.tolist(), records[pushed].tolist(), strict=True
            ):
                pays = bool(paying[i])
                lead, back = self._push(region, debtor, owed, pays)
                leads += lead
                restored += back and not pays
                if back:
                    gone.append(i)
        if n < VECTOR_MIN:  # a few members: numpy's overhead would be most of the cost
            for i, (region, debtor, owed, left, next_push) in enumerate(records.tolist()):
                if left > 1 and i not in gone:
                    self._add(region, debtor, owed, left - 1, next_push + self.interval)
        else:
            self._push_again(records, gone)
        self.w.events.pushed(self.w.env.now, n, leads, restored)

    def _draw(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which members have assets again, and which pay: each region's draws from its own
        streams, for its members in their order."""
        n = len(records)
        if self.alone >= 0:  # one region's pool (a one-region world): two draws, no grouping
            return self._draws(self.alone, n)
        emerged = np.zeros(n, bool)
        paying = np.zeros(n, bool)
        if self.emergence <= 0 and self.pays <= 0:
            return emerged, paying
        regions = records["region"]
        order = np.argsort(regions, kind="stable")  # by region, each in the members' order
        counts = np.bincount(regions, minlength=len(self.names)).tolist()
        start = 0
        for k, m in enumerate(counts):
            if m:
                at = order[start : start + m]
                emerged[at], paying[at] = self._draws(k, m)
                start += m
        return emerged, paying

    def _draws(self, region: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The draws of ``n`` members of one region, in their order."""
        if self.emergence > 0:
            emerged = self._rng(region).random(n) < self.emergence
        else:
            emerged = np.zeros(n, bool)
        rng = self.pays_rng[region]
        paying = rng.random(n) < self.pays if self.pays > 0 and rng else np.zeros(n, bool)
        return emerged, paying

    def _push(self, region: int, debtor: int, owed: float, pays: bool) -> tuple[bool, bool]:
        """One member's push: (a lead found, the case restored)."""
        w = self.w
        name = self.names[region]
        runtime = w.regions[name]
        if pays:  # credit punishment bites: the debtor pays what is still owed
            w.restore(name, debtor, owed if not math.isnan(owed) else runtime.draw_pool_claim(),
                      (), True)  # fmt: skip
            return False, True
        assets = runtime.pool_debtors.holdings()
        found = [a for a in assets if a.asset_type in self.reachable[name]]
        if not found:
            return False, False
        if math.isnan(owed):
            owed = runtime.draw_pool_claim()
        worth = self._realisable(found) >= self.restore_share * owed
        if worth and (self.followup >= 1 or self._rng(region).random() < self.followup):
            w.restore(name, debtor, owed, assets, False)
            return True, True
        return True, False

    def _push_again(self, records: np.ndarray, gone: list[int]) -> None:
        """Those still to be pushed, an interval on, moved in one vectorised step in the
        order they were in."""
        stays = records["left"] > 1
        stays[gone] = False
        moved = records.view(_RAW)[stays].view(RECORD)  # a copy
        if not len(moved):
            return
        moved["left"] -= 1
        moved["next_push"] += self.interval
        days = np.ceil(moved["next_push"]).astype(np.int64)
        # a bucket's next pushes lie within a day, so these within two (or one)
        first, last = int(days.min()), int(days.max())
        for d in range(first, last + 1):
            due = moved if first == last else moved.view(_RAW)[days == d].view(RECORD)
            if len(due):
                self._bucket(d).extend(due)
        self.size += len(moved)

    def _realisable(self, assets: list[Asset]) -> float:
        return sum(
            a.value_yuan * self.sale_ratio[a.asset_type.value]
            if a.asset_type in SOLD_ASSETS
            else a.value_yuan
            for a in assets
        )
