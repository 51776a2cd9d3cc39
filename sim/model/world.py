"""The world of one replication: the SimPy environment and everything the cases share.

:class:`World` builds, from a scenario and the replication's streams, the courts and their
officers, the agencies and links of the network, the freeze, sale and case-fund stages and
the 终本 pool, and it files matters: new cases (initial pending ones at t=0, then Poisson
arrivals per region), cases restored from the pool, and objections. A case is a record
(:mod:`sim.model.case`), its life (timers and a process) in :mod:`sim.model.lifecycle`,
each region's courts and draws in :mod:`sim.model.region`. What happens is told to the
:class:`EventSink` the world is given (statistics, and the event log when records are kept).

A case whose remaining life needs no shared resource closes *on the books* at once, with
its future closing time; the count of open cases counts each closing at the first instant
the backlog is sampled at that sees it (:mod:`sim.model.backlog`), so the case needs no
process while it waits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Generator
from typing import Any

from sim.model.backlog import Closings, sampling_instants
from sim.model.calendar import CalendarYears
from sim.model.case import Case
from sim.model.clock import Clock
from sim.model.closing import ClosingShelf
from sim.model.debtors import Asset
from sim.model.disbursement import CaseFunds
from sim.model.events import EventSink
from sim.model.freeze import FreezeDesk
from sim.model.lifecycle import CaseWorld, Matter, take
from sim.model.network import Network
from sim.model.region import RegionRuntime
from sim.model.sale import SaleStage
from sim.model.settlement import FundLedger
from sim.model.streams import Streams, held
from sim.model.terminated_pool import TerminatedPool
from sim.model.topology import Topology
from sim.scenario.schema import Scenario


class World(CaseWorld):
    """Everything one replication's cases share (what they read of it: :class:`CaseWorld`)."""

    def __init__(
        self,
        scenario: Scenario,
        streams: Streams,
        events: EventSink,
        progress: Callable[[float], None] | None = None,
        only: Collection[str] | None = None,
    ) -> None:
        """``only``: the regions this world runs (all by default), for a replication split
        across processes by region (:mod:`sim.engine.split`); a region's draws are its own
        (streams keyed by its name), whichever other regions run beside it."""
        self.scenario = scenario
        self.env = Clock()  # a two-level queue, in SimPy's order
        self.events = events
        self.years = CalendarYears(scenario.start_date)
        # 公积金: provident fund taken per (debtor, calendar year), across cases and funds
        self.fund_ledger: FundLedger = {}
        self.topology = Topology(scenario)
        self._next_debtor = 0
        self.filed_total = 0
        # cases closed by each instant the backlog is sampled at (see _sample_backlog)
        self.closings = Closings(
            sampling_instants(scenario.backlog_sample_days, scenario.horizon_days)
        )
        self.regions = {
            name: RegionRuntime(name, spec, scenario, self.env, streams, events)
            for name, spec in scenario.regions.items()
            if only is None or name in only
        }
        self.available_officer_days = sum(r.available_officer_days for r in self.regions.values())
        self.network = Network(scenario, self.topology, streams)
        self.freezes = FreezeDesk(scenario)
        self.sale = SaleStage(scenario.sale)
        self.funds = CaseFunds(scenario.disbursement)
        self.pool = TerminatedPool(self, streams)  # each region's draws its own
        self.closing = ClosingShelf(self)  # cases still owing, waiting for their closing
        self._progress = progress
        for region in self.regions.values():  # compiled processes (Clock.start)
            self.env.start(self._filings(region))
        self.env.start(self.pool.run())
        self.env.start(self._sample_backlog())
        if progress is not None:
            self.env.start(self._report_progress())

    # ------------------------------------------------------------ filing
    def new_debtor_id(self) -> int:
        self._next_debtor += 1
        return self._next_debtor - 1

    def new_debtor_ids(self, n: int) -> int:
        """``n`` new debtors' ids, in a row: the first of them."""
        self._next_debtor += n
        return self._next_debtor - n

    def file(
        self,
        region: RegionRuntime,
        claim: float | None = None,
        assets: tuple[Asset, ...] | None = None,
        matter: str = "new",
        debtor_id: int | None = None,
        pays: bool = False,
    ) -> Case:
        now = self.env.now
        case = Matter(
            self,
            self.filed_total,
            region,
            region.pick_court(matter),
            now,
            region.draw_claim() if claim is None else claim,
            region.debtors.assets() if assets is None else assets,
            matter,
            self.new_debtor_id() if debtor_id is None else debtor_id,
            pays,
        )
        if matter != "objection":  # drawn at filing, in filing order (common random numbers)
            case.seed = held(region.case_seed())  # the same draws, passed unboxed
            case.work = region.investigate()
            if region.pays_probability > 0 or region.pays_part_probability > 0:
                # one draw decides: pays the rest, pays part of it, or does not pay
                conduct: float = region.conduct()  # read unboxed (a draw is Any)
                if conduct < region.pays_probability:
                    case.pays_after = region.days_to_pay()
                elif conduct < region.pays_probability + region.pays_part_probability:
                    case.pays_after = region.days_to_pay()
                    case.pays_share = region.part_share(case.seed)
            if region.objection_probability > 0:
                case.objects = float(region.conduct()) < region.objection_probability
        self.filed_total += 1  # matters filed, warm-up included
        self.events.filed(case)
        take(self, case)  # an officer takes it, in filing order
        return case

    def object_to(self, case: Case) -> None:
        """执行异议: an objection to ``case``, a matter of its own for the same debtor."""
        self.file(case.region, 0.0, (), "objection", case.debtor_id)

    def restore(
        self,
        region: str,
        debtor_id: int,
        owed: float,
        assets: tuple[Asset, ...],
        pays: bool = False,
    ) -> None:
        """恢复执行: a 终本 case whose debtor has assets again (or pays: ``pays``), as a new
        matter, filed in the court's office hours."""
        runtime = self.regions[region]
        at = runtime.restore_time(self.env.now)

        def later() -> Generator[Any, Any, None]:
            if at > self.env.now:
                yield self.env.wait(at - self.env.now)
            self.file(runtime, owed, assets, "restored", debtor_id, pays)

        self.env.start(later())

    def _filings(self, region: RegionRuntime) -> Generator[Any, Any, None]:
        for _ in range(region.initial_pending):
            self.file(region)
        env = self.env
        while True:
            t = region.next_arrival()
            if t == math.inf:
                return
            yield env.wait(t - env.now)
            self.file(region)

    # ------------------------------------------------------------ closing
    def close(self, case: Case, at: float) -> None:
        """Close ``case`` at ``at`` (now, or a time the case needs no process to reach)."""
        case.closed = at
        self.closings.add(at)
        self.events.closed(case)
        if case.outcome in ("terminated_for_now", "partly_performed"):
            self.pool.enter(case.region, case.debtor_id, case.claim - case.recovered, at)

    # ------------------------------------------------------------ monitors
    def open_cases(self, t: float) -> int:
        """Cases filed and not closed by ``t``: a sampling instant, or after the last."""
        return self.filed_total - self.closings.by(t)

    def _sample_backlog(self) -> Generator[Any, Any, None]:
        step = self.scenario.backlog_sample_days
        horizon = self.scenario.horizon_days
        env = self.env
        while env.now < horizon:
            self.events.backlog(env.now, self.open_cases(env.now), self.pool.size)
            yield env.wait(step)

    def _report_progress(self) -> Generator[Any, Any, None]:
        horizon = self.scenario.horizon_days
        step = horizon / 100
        assert self._progress is not None
        while self.env.now + step <= horizon:
            yield self.env.wait(step)
            self._progress(step)

    def run(self) -> None:
        self.env.run(until=self.scenario.horizon_days)
