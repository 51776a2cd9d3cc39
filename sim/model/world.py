"""The world of one replication: the SimPy environment and everything the cases share.

:class:`World` builds, from a scenario and the replication's streams, the courts and their
officers, the agencies and links of the network, the freeze, sale and case-fund stages and
the 终本 pool, and it files matters: new cases (initial pending ones at t=0, then Poisson
arrivals per region), cases restored from the pool, and objections. The case process is in
:mod:`sim.model.case`.

A case whose remaining life needs no shared resource closes *on the books* at once, with
its future closing time; the count of open cases follows the closing times (a heap popped
as the clock passes them), so the case needs no process while it waits.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from sim.model.calendar import CalendarYears, WorkingTime
from sim.model.debtors import Asset, DebtorFactory
from sim.model.disbursement import CaseFunds
from sim.model.filing import MonthlyRate, arrival_times
from sim.model.freeze import FreezeDesk, _uniforms
from sim.model.network import Network
from sim.model.officers import Court, split_officers
from sim.model.sale import SaleStage
from sim.model.streams import Streams
from sim.model.terminated_pool import TerminatedPool
from sim.model.topology import Topology
from sim.results.records import EventLog
from sim.results.statistics import Observer
from sim.scenario.distributions import sampler
from sim.scenario.schema import Region, Scenario


class RegionRuntime:
    """A region's courts and the random draws of its cases."""

    def __init__(self, name: str, spec: Region, world: World, streams: Streams) -> None:
        self.name = name
        scenario = world.scenario
        calendar = WorkingTime(spec.calendar, scenario.start_date)
        officers = spec.effective_officers
        self.courts = [
            Court(world.env, f"{name}-{i + 1}", name, n, calendar, world.observer)
            for i, n in enumerate(split_officers(officers, spec.courts))
        ]
        self.available_officer_days = officers * calendar.working_days_between(
            scenario.warmup_days, scenario.horizon_days
        )
        work = spec.officer_work

        def stream(*names: str) -> np.random.Generator:
            return streams.rng(names[0], name, *names[1:])

        self.investigate = sampler(work.investigate_days, stream("work", "investigate"))
        self.offline_control = sampler(work.offline_control_days, stream("work", "offline"))
        self.rework = sampler(work.rework_days, stream("work", "rework"))
        self.travel = sampler(work.travel_days, stream("work", "travel"))
        self.claim = sampler(spec.claim_yuan, stream("claims"))
        self.debtors = DebtorFactory(scenario.debtors, stream("debtors"))
        # one stream per sampler: block samplers sharing a generator would interleave their
        # blocks in an order that depends on the scenario
        self.conduct = _uniforms(stream("conduct"))
        credit = scenario.credit_punishment
        self.pays_probability = credit.pays_probability
        self.days_to_pay = sampler(credit.days_to_pay, stream("conduct", "days_to_pay"))
        matters = scenario.matters
        self.objection_probability = matters.objection_probability
        self.objection_work = sampler(matters.objection_officer_days, stream("work", "objection"))
        self.objection_days = sampler(matters.objection_days, stream("objection", "days"))
        # each kind of matter picks courts from its own stream, so restored matters and
        # objections do not shift the courts of new cases (common random numbers)
        self._court_picks = {
            kind: _integers(stream("courts", kind), len(self.courts))
            for kind in ("new", "restored", "objection")
        }
        # the 终本 pool draws what re-queried debtors owe and hold from streams of its own
        self.pool_claim = sampler(spec.claim_yuan, stream("pool", "claims"))
        self.pool_debtors = DebtorFactory(scenario.debtors, stream("pool", "debtors"))
        self.case_seed = _integers(stream("case_seeds"), 2**62)
        self.preference = {c.value: i for i, c in enumerate(spec.control_preference)}
        for c in ("central", "local"):
            self.preference.setdefault(c, len(self.preference))
        self.provident_fund_cap = spec.policy.provident_fund_annual_cap_yuan
        self.rate = MonthlyRate(
            spec.arrival_rate_per_day,
            spec.arrival_monthly_factors,
            scenario.start_date,
            scenario.horizon_days,
        )
        self.next_arrival = arrival_times(self.rate, stream("arrivals"))
        self.initial_pending = spec.initial_pending_cases

    def draw_claim(self) -> float:
        return round(self.claim(), 2)

    def draw_pool_claim(self) -> float:
        return round(self.pool_claim(), 2)

    def pick_court(self, matter: str = "new") -> Court:
        return self.courts[self._court_picks[matter]()]


@dataclass(slots=True)
class Case:
    """One matter (a new case, a restored one, or an objection) as it moves on."""

    case_id: int
    region: RegionRuntime
    court: Court
    filed: float
    claim: float
    assets: tuple[Asset, ...]
    matter: str = "new"  # "new", "restored" or "objection"
    debtor_id: int = -1
    work: float = 0.0  # the officer's first stint, in working days
    pays_after: float = math.inf  # credit punishment: days from restrictions to payment
    objects: bool = False  # draws an objection (a matter of its own)
    seed: int = 0  # keys the case's own draws after its query (records, controls, sales,
    # payouts, renewals), drawn at filing: the same case draws the same in every scenario
    officer_start: float = math.nan
    closed: float = math.nan
    outcome: str = ""
    recovered: float = 0.0
    last_disbursed: float = math.nan
    found: int = 0
    queries: int = 0
    reworks: int = 0
    paid_out: list[tuple[float, float]] | None = None  # (paid out at, yuan), when kept


class World:
    """Everything one replication's cases share."""

    def __init__(
        self,
        scenario: Scenario,
        streams: Streams,
        keep_records: bool,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.env = simpy.Environment()
        self.keep_records = keep_records
        self.log = EventLog(streams.replication, keep_records)
        self.case_rows: list[tuple] = []
        self.open: dict[int, Case] = {}
        self.years = CalendarYears(scenario.start_date)
        self.topology = Topology(scenario)
        self.observer = Observer(scenario.warmup_days, scenario.horizon_days, 0.0)
        self._next_id = 0
        self._next_debtor = 0
        self.filed_total = 0
        self.closed_total = 0
        self._closing: list[float] = []  # closing times not yet reached (a heap)
        self.regions = {
            name: RegionRuntime(name, spec, self, streams)
            for name, spec in scenario.regions.items()
        }
        self.observer.available_officer_days = sum(
            r.available_officer_days for r in self.regions.values()
        )
        self.network = Network(scenario, self.topology, streams)
        self.freezes = FreezeDesk(scenario)
        self.sale = SaleStage(scenario.sale)
        self.funds = CaseFunds(scenario.disbursement)
        self.pool = TerminatedPool(self, streams)
        self._progress = progress
        from sim.model.case import handle, objection  # the processes

        self._handle = handle
        self._objection = objection
        for region in self.regions.values():
            self.env.process(self._filings(region))
        self.env.process(self.pool.run())
        self.env.process(self._sample_backlog())
        if progress is not None:
            self.env.process(self._report_progress())

    # ------------------------------------------------------------ filing
    def new_debtor_id(self) -> int:
        self._next_debtor += 1
        return self._next_debtor - 1

    def file(
        self,
        region: RegionRuntime,
        claim: float | None = None,
        assets: tuple[Asset, ...] | None = None,
        matter: str = "new",
        debtor_id: int | None = None,
    ) -> Case:
        now = self.env.now
        case = Case(
            case_id=self._next_id,
            region=region,
            court=region.pick_court(matter),
            filed=now,
            claim=region.draw_claim() if claim is None else claim,
            assets=region.debtors.assets() if assets is None else assets,
            matter=matter,
            debtor_id=self.new_debtor_id() if debtor_id is None else debtor_id,
        )
        if matter != "objection":  # drawn at filing, in filing order (common random numbers)
            case.seed = region.case_seed()
            case.work = region.investigate()
            if region.pays_probability > 0 and region.conduct() < region.pays_probability:
                case.pays_after = region.days_to_pay()
            if region.objection_probability > 0:
                case.objects = region.conduct() < region.objection_probability
        self._next_id += 1
        self.filed_total += 1
        self.observer.on_filed(case.case_id, now, matter)
        if self.keep_records:
            self.log.add(
                now,
                case.case_id,
                region.name,
                "filed" if matter == "new" else matter,
                "",
                "",
                case.claim,
                "",
                None,
                None,
                case.debtor_id,
            )
            self.open[case.case_id] = case
        process = self._objection if matter == "objection" else self._handle
        self.env.process(process(self, case))
        return case

    def restore(self, region: str, debtor_id: int, owed: float, assets: tuple[Asset, ...]):
        """恢复执行: a 终本 case whose debtor has assets again, as a new matter."""
        return self.file(self.regions[region], owed, assets, "restored", debtor_id)

    def _filings(self, region: RegionRuntime) -> Generator[Any, Any, None]:
        for _ in range(region.initial_pending):
            self.file(region)
        env = self.env
        while True:
            t = region.next_arrival()
            if t == math.inf:
                return
            yield env.timeout(t - env.now)
            self.file(region)

    # ------------------------------------------------------------ closing
    def close(self, case: Case, at: float) -> None:
        """Close ``case`` at ``at`` (now, or a time the case needs no process to reach)."""
        case.closed = at
        heapq.heappush(self._closing, at)
        self.observer.on_closed(
            case.case_id,
            case.filed,
            at,
            case.outcome,
            case.claim,
            case.recovered,
            case.last_disbursed,
            case.matter,
        )
        if self.keep_records:
            self.log.add(
                at,
                case.case_id,
                case.region.name,
                "closed",
                "",
                "",
                case.recovered,
                "",
                None,
                None,
                case.debtor_id,
            )
            del self.open[case.case_id]
            self.case_rows.append(self.case_row(case, self.scenario.horizon_days))
        if case.outcome in ("terminated_for_now", "partly_performed"):
            self.pool.enter(case.region.name, case.debtor_id, case.claim - case.recovered, at)

    def case_row(self, case: Case, until: float) -> tuple:
        paid_out = case.paid_out or ()
        paid = sum(a for t, a in paid_out if t < until)
        last = max((t for t, _ in paid_out if t < until), default=math.nan)
        closed = case.closed < until
        return (
            self.log.replication,
            case.case_id,
            case.region.name,
            case.court.name,
            case.matter,
            case.debtor_id,
            case.filed,
            case.officer_start,
            case.closed if closed else math.nan,
            case.outcome if closed else "open",
            case.claim,
            paid,
            last,
            len(case.assets),
            case.found,
            case.queries,
            case.reworks,
        )

    def open_case_rows(self) -> list[tuple]:
        horizon = self.scenario.horizon_days
        return [self.case_row(c, horizon) for c in self.open.values()]

    # ------------------------------------------------------------ monitors
    def open_cases(self, t: float) -> int:
        closing = self._closing
        while closing and closing[0] <= t:
            heapq.heappop(closing)
            self.closed_total += 1
        return self.filed_total - self.closed_total

    def _sample_backlog(self) -> Generator[Any, Any, None]:
        step = self.scenario.backlog_sample_days
        horizon = self.scenario.horizon_days
        env = self.env
        while env.now < horizon:
            self.observer.sample_backlog(env.now, self.open_cases(env.now), self.pool.size)
            yield env.timeout(step)

    def _report_progress(self) -> Generator[Any, Any, None]:
        horizon = self.scenario.horizon_days
        step = horizon / 100
        assert self._progress is not None
        while self.env.now + step <= horizon:
            yield self.env.timeout(step)
            self._progress(step)

    def run(self) -> None:
        self.env.run(until=self.scenario.horizon_days)
        self.observer.finish()


def _integers(rng: np.random.Generator, n: int) -> Callable[[], int]:
    """Uniform picks from range(n), drawn in blocks."""
    if n == 1:
        return itertools.repeat(0).__next__

    def blocks() -> Iterator[list[int]]:
        while True:
            yield rng.integers(0, n, 256).tolist()

    return itertools.chain.from_iterable(blocks()).__next__
