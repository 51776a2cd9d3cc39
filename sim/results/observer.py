"""The streaming statistics of one replication: the model's event sink, compiled.

:class:`Observer` is the model's event sink (:class:`sim.model.events.EventSink`): told what
happens as it happens, it keeps only running sums, counts, an HDR histogram of time to close
(percentiles to 3 significant digits) and the backlog samples, so its memory does not
depend on how many cases pass through. Its :meth:`Observer.metrics` are one replication's
headline figures, in the catalogue's order (:mod:`sim.results.metrics`);
:mod:`sim.results.statistics` turns a metric's values over replications into an interval.

The observation window is ``[warmup_days, horizon_days)``: a case counts for the
closure-based metrics when it closes inside the window, for the filing-based ones when it is
filed inside it.

The model calls it several times for every matter, so the install compiles it with the
model (``sim/model/_compiled.py``); the event log (:mod:`sim.results.eventlog`) extends it
in Python.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Any, ClassVar, Final

from hdrh.histogram import HdrHistogram
from mypy_extensions import mypyc_attr

from sim.model.case import Case
from sim.model.deduction import is_provident_fund
from sim.model.events import EventKind, EventSink
from sim.model.freeze import Failure, Hold
from sim.model.network import QueryResult
from sim.results.hdr_tally import HdrTally
from sim.results.metrics import HEADLINE_METRICS

MINUTES_PER_DAY: Final = 1440.0


class RegionSums:
    """One region's sums of floats (unboxed: a compiled class's attributes)."""

    def __init__(self) -> None:
        self.close_time = 0.0  # days from filing to closing, of the matters closed
        self.recovery_time = 0.0  # days from filing to the last money, of cases recovering
        self.claim = 0.0  # claimed, of the cases closed
        self.recovered = 0.0  # recovered, of those
        self.disbursed = 0.0  # money paid out inside the window, whatever case
        self.officer_wait = 0.0  # days from filing to the first stint
        self.officer_work = 0.0  # officer working days booked
        self.fund_deducted = 0.0  # provident fund deducted
        self.in_system = 0.0  # days in the system, up to the horizon


@mypyc_attr(allow_interpreted_subclasses=True)  # the event log extends it, as Python
class Observer(EventSink):
    """Streaming statistics of one replication."""

    def __init__(
        self,
        warmup: float,
        horizon: float,
        available_officer_days: float = 0.0,
        officers: int = 0,
        regions: int = 1,
    ) -> None:
        self.warmup = warmup
        # every sum of floats is kept by region (its number: the scenario's order) and added
        # up in region order when read, so that a replication split across processes by
        # region (sim/engine/split.py) sums the same numbers in the same order: the same bits
        self.regions = regions
        self.sums = [RegionSums() for _ in range(regions)]
        self.horizon = horizon
        self.available_officer_days = available_officer_days  # officer working days available in the window
        self.officers = officers  # officers of every region
        self.matters_filed: int = 0  # matters of every kind filed in the window
        self.filed_by_matter: dict[str, int] = {}
        self.matters_closed: int = 0  # matters of every kind closed in the window
        self.closed_cases: int = 0  # of those, enforcement cases (new or restored)
        self.outcomes: dict[str, int] = {}
        self.recovered_cases: int = 0
        self.officer_starts: int = 0
        self.queries: dict[str, int] = {}
        self.answers: int = 0
        self.late_answers: int = 0
        self.freeze_attempts: int = 0
        self.freeze_failures: int = 0
        self.voluntary_payments: int = 0
        self.renewals_needed: int = 0
        self.renewals_failed: int = 0
        self.pushes: int = 0
        self.leads: int = 0
        self.restored: int = 0
        # by region: case -> filed, while open
        self.filed_in_window: list[dict[int, float]] = [{} for _ in range(regions)]
        # the series sampled every backlog_sample_days, as typed arrays (8 bytes a sample, not
        # a Python number's 32): they are what grows with simulated time
        self.backlog_times: array[float] = array("d")
        self.backlog_counts: array[int] = array("q")
        self.pool_counts: array[int] = array("q")
        # time to close in minutes: counted by bucket as cases close, recorded in the HDR
        # histogram when it is read (the same histogram, far less work a case)
        self.close_times = HdrTally(HdrHistogram(1, 100 * 366 * 1440, 3))
        self.close_days_hist: list[int] = []  # cases per whole day, for plots
        self.recovery_days_hist: list[int] = []  # time to recovery, likewise
        self.queries_by_hour: dict[str, list[int]] = {}  # channel -> 24 counts

    def in_window(self, t: float) -> bool:
        return self.warmup <= t < self.horizon

    # ------------------------------------------------------------ the event sink
    detailed: ClassVar[bool] = False  # statistics need no per-request detail

    def filed(self, case: Case) -> None:
        t = case.filed
        if self.warmup <= t < self.horizon:
            matter = case.matter
            self.matters_filed += 1
            self.filed_by_matter[matter] = self.filed_by_matter.get(matter, 0) + 1
            self.filed_in_window[case.region.number][case.case_id] = t

    def officer_started(self, case: Case, start: float) -> None:
        if self.warmup <= start < self.horizon:
            self.officer_starts += 1
            self.sums[case.region.number].officer_wait += start - case.filed

    def officer_worked(self, start: float, days: float, region: int = 0) -> None:
        if self.warmup <= start < self.horizon:
            self.sums[region].officer_work += days

    def queried(self, case: Case, result: QueryResult) -> None:
        """Requests sent together: counts by channel and hour, answers against deadlines."""
        sent = result.sent
        if not self.warmup <= sent < self.horizon:
            return
        queries = self.queries
        hour = min(int((sent % 1.0) * 24), 23)  # hour of the day (day 0 starts at 00:00)
        for channel, n in result.requests.items():
            queries[channel] = queries.get(channel, 0) + n
            by_hour = self.queries_by_hour.get(channel)
            if by_hour is None:
                by_hour = self.queries_by_hour[channel] = [0] * 24
            by_hour[hour] += n
        self.answers += result.with_deadline
        self.late_answers += result.late

    def controlled(self, case: Case, holds: list[Hold], failures: list[Failure]) -> None:
        for h in holds:
            if self.warmup <= h.at < self.horizon:
                self.freeze_attempts += 1
        for x in failures:
            if self.warmup <= x.at < self.horizon:
                self.freeze_attempts += 1
                self.freeze_failures += 1

    def reworked(self, case: Case, at: float) -> None:
        pass

    def paid(
        self, case: Case, hold: Hold | None, at: float, paid_at: float, yuan: float, kind: EventKind
    ) -> None:
        """Money taken at ``at`` (deduction, sale or voluntary payment), paid out at ``paid_at``."""
        sums = self.sums[case.region.number]
        if self.warmup <= paid_at < self.horizon:
            sums.disbursed += yuan
        if self.warmup <= at < self.horizon:
            if hold is not None and is_provident_fund(hold):
                sums.fund_deducted += yuan
            if kind is EventKind.voluntary:
                self.voluntary_payments += 1

    def sale_failed(self, case: Case, hold: Hold, at: float) -> None:
        pass

    def renewal(self, case: Case, hold: Hold, at: float, ok: bool) -> None:
        if self.warmup <= at < self.horizon:
            self.renewals_needed += 1
            if not ok:
                self.renewals_failed += 1

    def unfrozen(self, case: Case, hold: Hold, at: float) -> None:
        pass

    def pushed(self, at: float, pushes: int, leads: int, restored: int) -> None:
        """终本 pool re-queries at ``at``: debtors checked, leads found, cases restored."""
        if self.warmup <= at < self.horizon:
            self.pushes += pushes
            self.leads += leads
            self.restored += restored

    def closed(self, case: Case) -> None:
        closed = case.closed
        region = case.region.number
        sums = self.sums[region]
        start = self.filed_in_window[region].pop(case.case_id, None)
        if start is not None:
            sums.in_system += min(closed, self.horizon) - start
        if not self.warmup <= closed < self.horizon:
            return
        filed = case.filed
        ttc = closed - filed
        self.matters_closed += 1
        self.outcomes[case.outcome] = self.outcomes.get(case.outcome, 0) + 1
        sums.close_time += ttc
        self.close_times.record(max(1, round(ttc * MINUTES_PER_DAY)))
        _count_day(self.close_days_hist, ttc)
        if case.matter == "objection":
            return
        self.closed_cases += 1
        sums.claim += case.claim
        recovered = case.recovered
        sums.recovered += recovered
        if recovered > 0:
            self.recovered_cases += 1
            sums.recovery_time += case.last_disbursed - filed
            _count_day(self.recovery_days_hist, case.last_disbursed - filed)

    def backlog(self, at: float, open_cases: int, pool: int) -> None:
        self.backlog_times.append(at)
        self.backlog_counts.append(open_cases)
        self.pool_counts.append(pool)

    # ------------------------------------------------------------ results
    def finish(self) -> None:
        """Count cases still open at the horizon for time in system (up to the horizon)."""
        for region, open_cases in enumerate(self.filed_in_window):
            sums = self.sums[region]
            for start in open_cases.values():
                sums.in_system += self.horizon - start
            open_cases.clear()

    # ------------------------------------------------------------ a split replication
    def state(self) -> dict[str, Any]:
        """What this observer holds, as plain values (:meth:`absorb` adds it to another):
        the part of a replication split across processes that ran here."""
        state: dict[str, Any] = {name: getattr(self, name) for name in _COUNTS + _TALLIES}
        state.update({name: [getattr(r, name) for r in self.sums] for name in _SUMS})
        state["close_times"] = self.close_times.counted()
        state["backlog_counts"] = list(self.backlog_counts)
        state["pool_counts"] = list(self.pool_counts)
        state["backlog_times"] = list(self.backlog_times)
        return state

    def absorb(self, state: dict[str, Any]) -> None:
        """Add another observer's :meth:`state` to this one's (after :meth:`finish` on
        both). Counts add; each region's sums are kept by one process (the others' are 0.0,
        which adds exactly), so the sums read the same bits as one process's."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + state[name])
        for name in _TALLIES:
            _add_counts(getattr(self, name), state[name])
        for name in _SUMS:
            for sums, x in zip(self.sums, state[name], strict=True):
                setattr(sums, name, getattr(sums, name) + x)
        self.close_times.absorb(state["close_times"])
        times: list[float] = state["backlog_times"]
        if not self.backlog_times:
            self.backlog_times.extend(times)
            self.backlog_counts.extend([0] * len(times))
            self.pool_counts.extend([0] * len(times))
        if list(self.backlog_times) != times:
            raise ValueError("the parts of a split replication sampled the backlog apart")
        for series in ("backlog_counts", "pool_counts"):
            mine_series = getattr(self, series)
            for k, n in enumerate(state[series]):
                mine_series[k] += n

    # the sums, over the regions in their order (see __init__)
    @property
    def close_time_sum(self) -> float:
        return _total([r.close_time for r in self.sums])

    @property
    def recovery_time_sum(self) -> float:
        return _total([r.recovery_time for r in self.sums])

    @property
    def claim_sum(self) -> float:
        return _total([r.claim for r in self.sums])

    @property
    def recovered_sum(self) -> float:
        return _total([r.recovered for r in self.sums])

    @property
    def disbursed_sum(self) -> float:
        return _total([r.disbursed for r in self.sums])

    @property
    def officer_wait_sum(self) -> float:
        return _total([r.officer_wait for r in self.sums])

    @property
    def officer_work_sum(self) -> float:
        return _total([r.officer_work for r in self.sums])

    @property
    def fund_deducted_sum(self) -> float:
        return _total([r.fund_deducted for r in self.sums])

    @property
    def in_system_sum(self) -> float:
        return _total([r.in_system for r in self.sums])

    def metrics(self) -> dict[str, float]:
        span = self.horizon - self.warmup
        per_year = 365.0 / span
        closed = self.matters_closed
        cases = self.closed_cases
        new = self.filed_by_matter.get("new", 0)
        m = {
            "throughput_cases_per_year": closed * per_year,
            "cases_filed_per_year": self.matters_filed * per_year,
            "time_to_close_days_mean": _ratio(self.close_time_sum, closed),
            "time_to_close_days_p50": self._percentile(50),
            "time_to_close_days_p90": self._percentile(90),
            "time_to_recovery_days_mean": _ratio(self.recovery_time_sum, self.recovered_cases),
            "recovery_rate": _ratio(self.recovered_sum, self.claim_sum),
            "fully_performed_rate": _ratio(self.outcomes.get("fully_performed", 0), cases),
            "partly_performed_rate": _ratio(self.outcomes.get("partly_performed", 0), cases),
            "terminated_for_now_rate": _ratio(self.outcomes.get("terminated_for_now", 0), cases),
            "officer_utilization": _ratio(self.officer_work_sum, self.available_officer_days),
            "officer_wait_days_mean": _ratio(self.officer_wait_sum, self.officer_starts),
            "time_in_system_days_mean": _ratio(self.in_system_sum, self.matters_filed),
            "backlog_mean": self._backlog_mean(),
            "queries_per_day_central": self.queries.get("central", 0) / span,
            "queries_per_day_local": self.queries.get("local", 0) / span,
            "freeze_failure_rate": _ratio(self.freeze_failures, self.freeze_attempts),
            "late_answer_rate": _ratio(self.late_answers, self.answers),
            "money_disbursed_yuan_per_year": self.disbursed_sum * per_year,
            "provident_fund_deducted_yuan_per_year": self.fund_deducted_sum * per_year,
            "voluntary_payments_per_year": self.voluntary_payments * per_year,
            "renewal_failure_rate": _ratio(self.renewals_failed, self.renewals_needed),
            "case_to_matter_ratio": _ratio(self.matters_filed, new),
            "restored_per_year": self.restored * per_year,
            "requery_pushes_per_year": self.pushes * per_year,
            "requery_leads_per_year": self.leads * per_year,
            "requery_lead_rate": _ratio(self.leads, self.pushes),
            "requery_restore_rate": _ratio(self.restored, self.pushes),
            "terminated_pool_mean": self._mean_in_window(self.pool_counts),
            "terminated_pool_growth_per_year": self._pool_growth() * per_year,
            "cases_per_officer_per_year": _ratio(closed * per_year, self.officers),
        }
        return {name: m[name] for name in HEADLINE_METRICS}

    @property
    def close_hist(self) -> HdrHistogram:
        """Time to close, in minutes, of the matters closed in the window."""
        return self.close_times.histogram()

    def _percentile(self, q: float) -> float:
        hist = self.close_hist
        if hist.get_total_count() == 0:
            return math.nan
        return hist.get_value_at_percentile(q) / MINUTES_PER_DAY

    def _pool_growth(self) -> float:
        """(pool at the last sample in the window - at the first) / at the first."""
        inside = [
            c for t, c in zip(self.backlog_times, self.pool_counts, strict=True) if self.in_window(t)
        ]
        return _ratio(inside[-1] - inside[0], inside[0]) if inside else math.nan

    def _backlog_mean(self) -> float:
        return self._mean_in_window(self.backlog_counts)

    def _mean_in_window(self, series: Sequence[int]) -> float:
        inside = [c for t, c in zip(self.backlog_times, series, strict=True) if self.in_window(t)]
        return sum(inside) / len(inside) if inside else math.nan



def _count_day(hist: list[int], days: float) -> None:
    """Count one case in a histogram of whole days."""
    day = int(days)
    if day >= len(hist):
        hist.extend([0] * (day + 1 - len(hist)))
    hist[day] += 1


# what :meth:`Observer.state` holds: counts, tallies (dicts and lists of counts), sums by region
_COUNTS: Final = (
    "matters_filed", "matters_closed", "closed_cases", "recovered_cases", "officer_starts",
    "answers", "late_answers", "freeze_attempts", "freeze_failures", "voluntary_payments",
    "renewals_needed", "renewals_failed", "pushes", "leads", "restored",
)  # fmt: skip
_TALLIES: Final = (
    "filed_by_matter", "outcomes", "queries", "queries_by_hour", "close_days_hist",
    "recovery_days_hist",
)  # fmt: skip
_SUMS: Final = (
    "close_time", "recovery_time", "claim", "recovered", "disbursed", "officer_wait",
    "officer_work", "fund_deducted", "in_system",
)  # fmt: skip


def _add_counts(mine: Any, theirs: Any) -> None:
    """Add counts into ``mine``: a dict (of counts, or of lists of counts) or a list."""
    if isinstance(mine, dict):
        assert isinstance(theirs, dict)
        for key, n in theirs.items():
            held = mine.get(key)
            if held is None:
                mine[key] = n if not isinstance(n, list) else list(n)
            elif isinstance(held, list):
                _add_counts(held, n)
            else:
                mine[key] = held + n
    else:
        assert isinstance(mine, list) and isinstance(theirs, list)
        if len(theirs) > len(mine):
            mine.extend([0] * (len(theirs) - len(mine)))
        for k, n in enumerate(theirs):
            mine[k] += n


def _total(sums: list[float]) -> float:
    """The regions' sums added up in region order."""
    total = 0.0
    for x in sums:
        total += x
    return total


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan
