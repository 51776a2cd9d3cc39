"""The model against Erlang C at utilisation 0.8, and with forty officers at 0.95. A file of
its own: long statistical checks, so that the suite's processes (``pytest -n``, a file each at
a time) carry them beside the other validation files."""

from __future__ import annotations

import pytest

from sim.scenario import load_scenario
from sim.study.settings import Settings
from sim.study.theory import read_check
from sim.study.verify import verify
from tests.conftest import SCENARIOS
from tests.sim.test_validation_heavy_traffic import holds_at_heavy_traffic

MMC = SCENARIOS / "validation" / "mmc.toml"


@pytest.mark.slow
def test_mmc_officer_wait_matches_erlang_c_at_utilisation_0_8():
    """16 replications of 20,000 days (80,000 cases each): the 95% interval is about +-3% of
    Erlang C's 0.554 days, and the estimate within 2% of it."""
    loaded = load_scenario(MMC, ["horizon_days=20200"])
    r = verify(
        loaded, read_check(MMC), Settings(replications=16, seed=7, workers=2, progress=False)
    )
    assert r["parameters"]["utilization"] == pytest.approx(0.8)
    assert r["inside_ci95"], r
    assert abs(r["relative_error"]) < 0.02, r
    lo, hi = r["ci95"]
    assert (hi - lo) / 2 < 0.035 * r["expected"], r


@pytest.mark.slow
def test_mmc_holds_at_heavy_traffic_with_forty_officers():
    """At rho = 0.95 with c = 40 the wait is 0.33 days, and its interval settles
    slowly too: the run is as long as ``verify`` chooses from the load."""
    holds_at_heavy_traffic(40)
