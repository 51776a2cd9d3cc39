"""A region at run time: its courts and officers, and the random draws of its cases.

Each region draws from streams of its own (arrivals, claims, debtors, officer work,
conduct, courts per kind of matter, case seeds, the 终本 pool's draws), named by source and
region, so a change elsewhere leaves its draws as they were (common random numbers).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sim.model.calendar import WorkingTime
from sim.model.clock import Clock
from sim.model.debtors import DebtorFactory
from sim.model.filing import ArrivalTimes, MonthlyRate, OfficeFilings
from sim.model.officers import Court, WorkLog, split_officers
from sim.model.settlement import round_yuan
from sim.model.streams import (
    Streams,
    integers,
    inverse,
    key_of,
    keyed_uniform,
    sampler,
    uniforms,
)
from sim.scenario.holidays import load_holidays
from sim.scenario.schema import Region, Scenario

PART_SHARE: Final = key_of("part share")


class RegionRuntime:
    """A region's courts and the random draws of its cases."""

    def __init__(
        self,
        name: str,
        spec: Region,
        scenario: Scenario,
        env: Clock,
        streams: Streams,
        work_log: WorkLog,
    ) -> None:
        self.name = name
        # its number: its place in the scenario's regions (the observer's sums are by region)
        self.number: int = list(scenario.regions).index(name)
        calendar = WorkingTime(spec.calendar, scenario.start_date, load_holidays(scenario.holidays))
        self.calendar = calendar
        officers = spec.effective_officers
        self.courts = [
            Court(env, f"{name}-{i + 1}", name, n, calendar, work_log, self.number)
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
        self.conduct = uniforms(stream("conduct"))
        credit = scenario.credit_punishment
        self.pays_probability = credit.pays_probability
        self.pays_part_probability = credit.pays_part_probability
        self._part_share = inverse(credit.part_share)
        self.days_to_pay = sampler(credit.days_to_pay, stream("conduct", "days_to_pay"))
        matters = scenario.matters
        self.objection_probability = matters.objection_probability
        self.objection_work = sampler(matters.objection_officer_days, stream("work", "objection"))
        self.objection_days = sampler(matters.objection_days, stream("objection", "days"))
        # each kind of matter picks courts from its own stream, so restored matters and
        # objections do not shift the courts of new cases (common random numbers)
        self._court_picks = {
            kind: integers(stream("courts", kind), len(self.courts))
            for kind in ("new", "restored", "objection")
        }
        # the 终本 pool draws what re-queried debtors owe and hold from streams of its own
        self.pool_claim = sampler(spec.claim_yuan, stream("pool", "claims"))
        self.pool_debtors = DebtorFactory(scenario.debtors, stream("pool", "debtors"))
        self.case_seed = integers(stream("case_seeds"), 2**62)
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
        self._arrivals = ArrivalTimes(self.rate, stream("arrivals"))
        self._office = OfficeFilings(self.rate, calendar, spec.filing_hours)
        # when in its office hours a restored case is filed: a stream of its own
        self.restore_share = uniforms(stream("pool", "hours"))
        self.closing_work = sampler(
            scenario.terminated_pool.closing_officer_days, stream("work", "closing")
        )
        self.initial_pending = spec.initial_pending_cases

    def next_arrival(self) -> float:
        """The next new case's filing time (inf when no more are filed): the next arrival,
        placed in office hours."""
        return self._office.place(self._arrivals.next())

    def part_share(self, seed: int) -> float:
        """The share of what is still owed a debtor paying part pays (keyed by the case)."""
        return min(1.0, self._part_share.at(keyed_uniform(seed, PART_SHARE)))

    def draw_claim(self) -> float:
        return round_yuan(self.claim())

    def draw_pool_claim(self) -> float:
        return round_yuan(self.pool_claim())

    def restore_time(self, t: float) -> float:
        """When, in office hours, a restored case found at ``t`` is filed."""
        cal = self.calendar
        if cal.continuous:
            return t
        day = cal.next_working_day(int(t // 1))
        office = self._office
        at = day + office.time_of_day(self.restore_share())
        return at if at >= t else cal.next_working_day(day + 1) + office.time_of_day(0.5)

    def pick_court(self, matter: str = "new") -> Court:
        return self.courts[self._court_picks[matter]()]
