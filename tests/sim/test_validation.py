"""The model against queueing theory, Little's law, and reproducibility.

Statistical checks use fixed seeds, so they are deterministic; each compares the model with
a closed form inside a 95% interval from replications.
"""

from __future__ import annotations

import json

import pytest

from sim.engine.runner import run_replications
from sim.results.statistics import summarize
from sim.scenario import load_scenario
from sim.study.settings import Settings
from sim.study.theory import MMc, erlang_c, jackson_feedback_sojourn, read_check
from sim.study.verify import verify
from tests.conftest import BASELINE, SCENARIOS

MMC = SCENARIOS / "validation" / "mmc.toml"
JACKSON = SCENARIOS / "validation" / "jackson.toml"


def test_closed_forms_against_textbook_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert MMc(0.5, 1, 1.0).wait_mean == pytest.approx(1.0)  # rho / (mu - lambda)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # a Jackson "network" of one M/M/1 station without feedback is that M/M/1 queue
    assert jackson_feedback_sojourn(0.5, 0.0, [1], [1.0]) == pytest.approx(2.0)


def test_headers_name_fields_that_set_can_change():
    check = read_check(MMC)
    assert check is not None and check.metric == "officer_wait_days_mean"
    base, _ = check.expected(load_scenario(MMC).resolved())
    assert base == pytest.approx(MMc(4, 5, 1.0).wait_mean)
    other, params = check.expected(load_scenario(MMC, ["regions.court.officers=6"]).resolved())
    assert params["servers"] == 6 and other == pytest.approx(MMc(4, 6, 1.0).wait_mean)
    first = MMC.read_text().splitlines()[1]
    assert first == (
        "# erlang-c: lambda=regions.court.arrival_rate_per_day servers=regions.court.officers "
        "service_mean_days=regions.court.officer_work.investigate_days.mean "
        "metric=officer_wait_days_mean"
    )


@pytest.mark.slow
def test_jackson_network_time_in_system_matches_product_form():
    loaded = load_scenario(JACKSON, ["horizon_days=6200"])  # the interval is about +-2%
    r = verify(
        loaded, read_check(JACKSON), Settings(replications=20, seed=3, workers=2, progress=False)
    )
    assert r["inside_ci95"], r
    assert abs(r["relative_error"]) < 0.02, r


def test_jackson_header_refuses_unequal_officer_stints():
    from sim.errors import UserError

    check = read_check(JACKSON)
    loaded = load_scenario(
        JACKSON, ['regions.court.officer_work.rework_days={kind="exponential", mean=2}']
    )
    with pytest.raises(UserError, match="to be equal"):
        check.expected(loaded.resolved())


@pytest.mark.slow
def test_littles_law_holds_on_the_models_own_output():
    scenario = load_scenario(JACKSON, ["horizon_days=6200"]).scenario
    results = run_replications(scenario, 11, 12, workers=2, show_progress=False)
    # L from the sampled backlog; lambda * W from filings and per-case time in system
    gaps = []
    for r in results:
        m = r.metrics
        lam_w = m["cases_filed_per_year"] / 365 * m["time_in_system_days_mean"]
        gaps.append(m["backlog_mean"] / lam_w - 1)
    s = summarize(gaps)
    assert s.ci95[0] <= 0 <= s.ci95[1], s
    assert abs(s.mean) < 0.01, s


def _small(*extra: str):
    return load_scenario(BASELINE, ["horizon_days=200", "warmup_days=20", *extra]).scenario


@pytest.mark.slow
def test_same_seed_same_results_whatever_the_workers():
    scenario = _small()
    one = [r.metrics for r in run_replications(scenario, 5, 4, workers=1, show_progress=False)]
    two = [r.metrics for r in run_replications(scenario, 5, 4, workers=2, show_progress=False)]
    again = [r.metrics for r in run_replications(scenario, 5, 4, workers=1, show_progress=False)]
    assert json.dumps(one) == json.dumps(two) == json.dumps(again)
    other = [r.metrics for r in run_replications(scenario, 6, 4, workers=1, show_progress=False)]
    assert json.dumps(one) != json.dumps(other)


@pytest.mark.slow
def test_common_random_numbers_keep_demand_fixed_when_resources_change(tmp_path):
    a = run_replications(_small(), 5, 2, keep_records=True, parts_dir=tmp_path, show_progress=False)
    claims_a = (tmp_path / "cases.00000.csv").read_text().splitlines()
    b = run_replications(
        _small("regions.hunan.officers=30"),
        5,
        2,
        keep_records=True,
        parts_dir=tmp_path,
        show_progress=False,
    )
    claims_b = (tmp_path / "cases.00000.csv").read_text().splitlines()
    assert [x.cases_filed for x in a] == [x.cases_filed for x in b]

    def filed(lines):  # region, filed time, claim of new cases: fixed by the arrival streams
        rows = [line.split(",") for line in lines]
        return sorted((r[2], r[6], r[10]) for r in rows if r[4] == "new")

    assert filed(claims_a) == filed(claims_b)
    assert a[0].metrics["officer_wait_days_mean"] != b[0].metrics["officer_wait_days_mean"]
