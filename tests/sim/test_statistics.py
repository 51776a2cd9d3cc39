"""Statistics: t-intervals, and the streaming observer on hand-fed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from sim.model.case import Case
from sim.results.observer import Observer
from sim.results.statistics import summarize, t_interval
from tests.sim.tiny import region_and_court


def test_summarize_is_a_t_interval():
    x = [3.1, 2.9, 3.4, 3.0, 2.7, 3.3]
    s = summarize(x)
    half = st.t.ppf(0.975, 5) * np.std(x, ddof=1) / math.sqrt(6)
    assert s.mean == pytest.approx(np.mean(x))
    assert s.ci95 == pytest.approx((np.mean(x) - half, np.mean(x) + half))
    assert s.n == 6


@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.99])
@pytest.mark.parametrize("dof", [1, 2, 4, 9, 29, 99, 1000])
@pytest.mark.parametrize(("mean", "sem"), [(3.1, 0.2), (-250.0, 17.5), (1e-4, 3e-7)])
def test_t_interval_is_scipy_stats_to_the_last_bit(confidence, dof, mean, sem):
    """The statistics avoid importing scipy.stats; the interval must not move for it."""
    lo, hi = st.t.interval(confidence, dof, loc=mean, scale=sem)
    assert t_interval(confidence, dof, mean, sem) == (float(lo), float(hi))


def test_summarize_leaves_out_missing_values_and_says_so():
    s = summarize([1.0, math.nan, 3.0])
    assert s.n == 2 and s.mean == 2.0
    empty = summarize([math.nan])
    assert empty.n == 0 and math.isnan(empty.mean)
    assert empty.to_json() == {"mean": None, "ci95": [None, None], "n": 0}


def _case(case_id: int, filed: float, claim: float = 0.0) -> Case:
    """A matter as the observer sees it (its region and court are not read)."""
    return Case(case_id, *region_and_court(), filed, claim, ())


def _close(obs: Observer, case: Case, at: float, outcome: str, recovered: float, last: float):
    case.closed, case.outcome, case.recovered, case.last_disbursed = at, outcome, recovered, last
    obs.closed(case)


def test_observer_counts_only_the_window():
    obs = Observer(warmup=10, horizon=375, available_officer_days=100)
    one, two, three = _case(1, 5, 1000), _case(2, 20, 500), _case(3, 30)
    for c in (one, two, three):
        obs.filed(c)  # case 1 before the window
    obs.officer_started(two, 21)
    obs.officer_worked(21, 2.5)
    obs.officer_worked(5, 9.0)  # before the window
    _close(obs, one, 40, "terminated_for_now", 0, math.nan)
    _close(obs, two, 60, "fully_performed", 500, 58)
    obs.finish()  # case 3 still open at 375
    m = obs.metrics()
    assert m["cases_filed_per_year"] == pytest.approx(2 * 365 / 365)
    assert m["throughput_cases_per_year"] == pytest.approx(2)
    assert m["time_to_close_days_mean"] == pytest.approx((35 + 40) / 2)
    assert m["time_to_recovery_days_mean"] == pytest.approx(38)
    assert m["recovery_rate"] == pytest.approx(500 / 1500)
    assert m["fully_performed_rate"] == pytest.approx(0.5)
    assert m["terminated_for_now_rate"] == pytest.approx(0.5)
    assert m["officer_utilization"] == pytest.approx(2.5 / 100)
    assert m["officer_wait_days_mean"] == pytest.approx(1)
    assert m["time_in_system_days_mean"] == pytest.approx((40 + (375 - 30)) / 2)
    assert m["time_to_close_days_p50"] == pytest.approx(35, rel=1e-3)
