"""The world of one replication: the SimPy environment and everything the cases share.

:class:`World` builds, from a scenario and the replication's streams, the courts and their
officers, the agencies and links of the network, the sale and case-fund stages, and it
files cases (initial pending ones at t=0, then Poisson arrivals per region). The case
process itself is in :mod:`sim.model.case`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.calendar import CalendarYears, WorkingTime
from sim.model.debtors import Asset, DebtorFactory
from sim.model.disbursement import CaseFunds
from sim.model.filing import MonthlyRate, arrival_times
from sim.model.network import Network
from sim.model.officers import Court, split_officers
from sim.model.sale import SaleStage
from sim.records import EventLog
from sim.scenario.distributions import sampler
from sim.scenario.schema import Region, Scenario
from sim.stats import Observer
from sim.streams import Streams
from sim.topology import Topology


class RegionRuntime:
    """A region's courts and the random draws of its cases."""

    def __init__(self, name: str, spec: Region, world: World, streams: Streams) -> None:
        self.name = name
        calendar = WorkingTime(spec.calendar, world.scenario.start_date)
        self.courts = [
            Court(world.env, f"{name}-{i + 1}", name, n, calendar, world.observer)
            for i, n in enumerate(split_officers(spec.officers, spec.courts))
        ]
        self.available_officer_days = spec.officers * calendar.working_days_between(
            world.scenario.warmup_days, world.scenario.horizon_days
        )
        work = spec.officer_work
        self.investigate = sampler(work.investigate_days, streams.rng("work", name, "investigate"))
        self.offline_control = sampler(
            work.offline_control_days, streams.rng("work", name, "offline_control")
        )
        self.rework = sampler(work.rework_days, streams.rng("work", name, "rework"))
        self.claim = sampler(spec.claim_yuan, streams.rng("claims", name))
        self.debtors = DebtorFactory(world.scenario.debtors, streams.rng("debtors", name))
        self._court_rng = streams.rng("courts", name)
        self._court_draws: list[int] = []
        self.preference = {c.value: i for i, c in enumerate(spec.control_preference)}
        for c in ("central", "local"):
            self.preference.setdefault(c, len(self.preference))
        self.provident_fund_cap = spec.policy.provident_fund_annual_cap_yuan
        self.rate = MonthlyRate(
            spec.arrival_rate_per_day,
            spec.arrival_monthly_factors,
            world.scenario.start_date,
            world.scenario.horizon_days,
        )
        self.next_arrival = arrival_times(self.rate, streams.rng("arrivals", name))
        self.initial_pending = spec.initial_pending_cases

    def pick_court(self) -> Court:
        if len(self.courts) == 1:
            return self.courts[0]
        if not self._court_draws:
            self._court_draws.extend(self._court_rng.integers(0, len(self.courts), 256).tolist())
        return self.courts[self._court_draws.pop()]


@dataclass(slots=True)
class Case:
    """One enforcement case (one debtor) as it moves through the network."""

    case_id: int
    region: RegionRuntime
    court: Court
    filed: float
    claim: float
    assets: tuple[Asset, ...]
    officer_start: float = math.nan
    closed: float = math.nan
    outcome: str = ""
    recovered: float = 0.0
    last_disbursed: float = math.nan
    found: int = 0
    queries: int = 0
    reworks: int = 0
    paid_out: list[tuple[float, float]] = field(default_factory=list)


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
        self.regions = {
            name: RegionRuntime(name, spec, self, streams)
            for name, spec in scenario.regions.items()
        }
        self.observer.available_officer_days = sum(
            r.available_officer_days for r in self.regions.values()
        )
        self.network = Network(scenario, self.topology, streams)
        self.sale = SaleStage(scenario.sale, streams.rng("sale"))
        self.funds = CaseFunds(scenario.disbursement, streams.rng("disbursement"))
        self.terminated_pool = sum(r.initial_terminated_pool for r in scenario.regions.values())
        self.pool_samples: list[int] = []
        self._next_id = 0
        self._progress = progress
        from sim.model.case import handle  # the case process strings the stages together

        self._handle = handle
        for region in self.regions.values():
            self.env.process(self._filings(region))
        self.env.process(self._sample_backlog())
        if progress is not None:
            self.env.process(self._report_progress())

    # ------------------------------------------------------------ filing
    def file(self, region: RegionRuntime) -> Case:
        now = self.env.now
        case = Case(
            case_id=self._next_id,
            region=region,
            court=region.pick_court(),
            filed=now,
            claim=round(region.claim(), 2),
            assets=region.debtors.assets(),
        )
        self._next_id += 1
        self.observer.on_filed(case.case_id, now)
        self.log.add(now, case.case_id, region.name, "filed", amount_yuan=case.claim)
        if self.keep_records:
            self.open[case.case_id] = case
        self.env.process(self._handle(self, case))
        return case

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
    def close(self, case: Case) -> None:
        now = self.env.now
        case.closed = now
        if case.outcome == "terminated_for_now":
            self.terminated_pool += 1
        self.observer.on_closed(
            case.case_id,
            case.filed,
            now,
            case.outcome,
            case.claim,
            case.recovered,
            case.last_disbursed,
        )
        self.log.add(now, case.case_id, case.region.name, "closed", amount_yuan=case.recovered)
        if self.keep_records:
            del self.open[case.case_id]
            self.case_rows.append(self.case_row(case))

    def case_row(self, case: Case, until: float = math.inf) -> tuple:
        paid = sum(a for t, a in case.paid_out if t < until)
        last = max((t for t, _ in case.paid_out if t < until), default=math.nan)
        return (
            self.log.replication,
            case.case_id,
            case.region.name,
            case.court.name,
            case.filed,
            case.officer_start,
            case.closed,
            case.outcome or "open",
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
        return [self.case_row(c, until=horizon) for c in self.open.values()]

    # ------------------------------------------------------------ monitors
    def _sample_backlog(self) -> Generator[Any, Any, None]:
        step = self.scenario.backlog_sample_days
        horizon = self.scenario.horizon_days
        env = self.env
        while env.now < horizon:
            self.observer.sample_backlog(env.now)
            self.pool_samples.append(self.terminated_pool)
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
