"""A scaled run (--scale) estimates the full-scale rates: resources scale with the volume."""

from __future__ import annotations

import pytest

from sim.results.statistics import summarize
from tests.conftest import BASELINE
from tests.sim.test_national import _summary


@pytest.mark.slow
def test_a_scaled_run_estimates_the_full_scale_rates():
    full = _summary(BASELINE, 1.0, 6, 21, "warmup_days=100", "horizon_days=400")
    half = _summary(BASELINE, 0.5, 6, 21, "warmup_days=100", "horizon_days=400")
    for metric in (
        "time_to_close_days_mean",
        "recovery_rate",
        "terminated_for_now_rate",
        "officer_utilization",
        "fully_performed_rate",
    ):
        a = summarize(m[metric] for m in full)
        b = summarize(m[metric] for m in half)
        # the intervals overlap: neither excludes the other's estimate
        assert a.ci95[0] <= b.ci95[1] and b.ci95[0] <= a.ci95[1], (metric, a, b)
