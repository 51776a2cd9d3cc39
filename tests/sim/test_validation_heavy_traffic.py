"""The model against Erlang C at heavy traffic (rho = 0.95), with the run length ``verify``
chooses from the load: one officer here, forty in ``test_validation_erlang_c.py``. Files of
their own: the longest statistical checks, so that the suite's processes (``pytest -n``, a
file each at a time) carry them side by side."""

from __future__ import annotations

import pytest

from sim.scenario import load_scenario
from sim.study.settings import Settings
from sim.study.theory import MMc, read_check, run_length
from sim.study.verify import verify
from tests.conftest import SCENARIOS

MMC = SCENARIOS / "validation" / "mmc.toml"


@pytest.mark.slow
def test_mmc_holds_at_heavy_traffic_with_a_run_length_from_the_load():
    """At rho = 0.95 the wait is long and slow to settle (c = 1: 19 days, relaxation about
    1,560 days); verify lengthens the run from the load, and the closed form is inside."""
    holds_at_heavy_traffic(1)


def holds_at_heavy_traffic(servers: int) -> None:
    """Erlang C inside the interval of a run as long as ``verify`` chooses for rho = 0.95."""
    rate = f"regions.court.arrival_rate_per_day={0.95 * servers}"
    loaded = load_scenario(MMC, [f"regions.court.officers={servers}", rate])
    settings = Settings(replications=8, seed=5, workers=2, progress=False)
    r = verify(loaded, read_check(MMC), settings, precision=0.1)
    assert r["parameters"]["utilization"] == pytest.approx(0.95)
    warmup, length = run_length(MMc(0.95 * servers, servers, 1.0), 8, 0.1)
    assert r["warmup_days"] >= warmup and r["horizon_days"] - r["warmup_days"] >= length
    assert r["inside_ci95"], r
    lo, hi = r["ci95"]
    assert (hi - lo) / 2 < 0.15 * r["expected"], r  # about the precision asked for
