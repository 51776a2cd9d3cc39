"""The national 2023 scenario, its what-if library, --scale, calibration and invariants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sim
from sim.engine.runner import run_replications
from sim.results.invariants import check_results
from sim.results.statistics import summarize
from sim.scenario import load_scenario
from tests.conftest import BASELINE, SCENARIOS

NATIONAL = SCENARIOS / "national-2023.toml"
WHATIFS = sorted(
    p
    for p in (SCENARIOS / "whatif").glob("*.toml")
    if 'extends = "../national-2023.toml"' in p.read_text(encoding="utf-8")
)
SHORT = ["warmup_days=90", "horizon_days=240"]
SCALE = 0.004
REPS = 4


def test_national_has_31_provinces_and_its_targets():
    s = load_scenario(NATIONAL).scenario
    assert len(s.regions) == 31
    assert {t.metric for t in s.calibration if t.role == "target"} >= {
        "throughput_cases_per_year",
        "time_to_close_days_mean",
        "requery_lead_rate",
        "requery_restore_rate",
        "case_to_matter_ratio",
    }
    assert s.regions["hunan"].policy.provident_fund_freeze_years == 3
    assert s.regions["liaoning"].policy.provident_fund_freeze_years == 2
    assert s.regions["chongqing"].policy.provident_fund_freeze_years == 1
    text = NATIONAL.read_text(encoding="utf-8")
    for line in text.splitlines():  # a fitted parameter says what it was fitted to
        if "=" in line.split("#")[0] and "fitted" in line:
            assert "fitted:" in line or "fitted to" in line, line


def test_every_free_parameter_names_the_figure_it_was_fitted_to():
    s = load_scenario(NATIONAL).scenario
    lines = NATIONAL.read_text(encoding="utf-8").splitlines()
    roles = {t.role for t in s.calibration}
    assert roles == {"target", "check"}
    assert {t.metric for t in s.calibration if t.role == "target"} >= {
        "requery_pushes_per_year",
        "requery_leads_per_year",
        "restored_per_year",
        "recovery_rate",
        "fully_performed_rate",
        "cases_per_officer_per_year",
        "terminated_pool_growth_per_year",
    }
    assert len(s.fit) >= 5
    for path in s.fit:
        # the line setting the parameter (or the table holding it) and the comment above it
        parts = path.split(".")
        keys = [f"{parts[-1]} =", f"{parts[-2]} ="] if len(parts) > 1 else [f"{parts[0]} ="]
        at = next(i for key in keys for i, line in enumerate(lines) if line.startswith(key))
        above = []
        for line in reversed(lines[:at]):
            if not line.startswith("#"):
                break
            above.append(line)
        said = " ".join([*reversed(above), lines[at]])
        assert "fitted" in said and any(ch.isdigit() for ch in said.split("fitted", 1)[1]), path


def test_the_library_has_every_question():
    names = {p.stem for p in WHATIFS}
    assert names == {
        "central-banks",
        "local-only",
        "e-assets",
        "pf-cap-lifted",
        "pf-freeze-3y",
        "remote-real-estate",
        "zhejiang-sales",
        "more-officers",
        "monthly-requery",
    }
    for path in WHATIFS:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# What if"), path
        assert 'extends = "../national-2023.toml"' in text
        assert len(text.splitlines()) < 25  # each states only what changes
        loaded = load_scenario(path)
        assert loaded.files[-1].resolve() == NATIONAL.resolve()


def _summary(path: Path, scale: float, reps: int, seed: int = 5, *extra: str):
    loaded = load_scenario(path, [*SHORT, *extra]).scaled(scale)
    results = run_replications(loaded.scenario, seed, reps, workers=2, show_progress=False)
    return [r.metrics for r in results]


def _paired(base, other, metric):
    return summarize(o[metric] - b[metric] for b, o in zip(base, other, strict=True))


@pytest.fixture(scope="module")
def base_runs():
    return _summary(NATIONAL, SCALE, REPS)


@pytest.mark.slow
def test_lifting_the_cap_never_lowers_provident_fund_money_in_year_one(base_runs):
    lifted = _summary(SCENARIOS / "whatif" / "pf-cap-lifted.toml", SCALE, REPS)
    d = _paired(base_runs, lifted, "provident_fund_deducted_yuan_per_year")
    assert d.ci95[0] > 0, d


@pytest.mark.slow
def test_connecting_e_assets_never_lowers_the_recovery_rate(base_runs):
    connected = _summary(SCENARIOS / "whatif" / "e-assets.toml", SCALE, REPS)
    d = _paired(base_runs, connected, "recovery_rate")
    assert d.ci95[0] > 0, d


@pytest.mark.slow
def test_more_officers_never_lengthen_the_mean_time_to_close(base_runs):
    path = SCENARIOS / "whatif" / "more-officers.toml"
    more = _summary(path, SCALE, REPS)
    # officers wait less, certainly; the mean time to close is not longer. At 2023's
    # utilisation (about 75%) most of the wait is for the court to open, so 20% more officers
    # barely shorten it: the difference may be within noise, but never significantly longer.
    wait = _paired(base_runs, more, "officer_wait_days_mean")
    assert wait.ci95[1] < 0, wait
    d = _paired(base_runs, more, "time_to_close_days_mean")
    assert d.ci95[0] <= 0, d
    # where officers are scarce (80% of today's), the same 20% more shortens it clearly
    scarce = _summary(NATIONAL, SCALE, REPS, 5, "region_overrides.officer_factor=0.8")
    relieved = _summary(path, SCALE, REPS, 5, "region_overrides.officer_factor=0.96")
    d = _paired(scarce, relieved, "time_to_close_days_mean")
    assert d.ci95[1] < 0, d


@pytest.mark.slow
def test_every_bank_query_central_cuts_freeze_failures_and_time_to_money(base_runs):
    # deposits in small local banks, found only over the local channel, are controlled in
    # person against records that are wrong more often; on the central channel they are not
    central = _summary(SCENARIOS / "whatif" / "central-banks.toml", SCALE, REPS)
    failures = _paired(base_runs, central, "freeze_failure_rate")
    assert failures.ci95[1] < 0, failures
    money = _paired(base_runs, central, "time_to_recovery_days_mean")
    assert money.ci95[1] < 0, money


@pytest.mark.slow
@pytest.mark.parametrize("path", WHATIFS, ids=lambda p: p.stem)
def test_every_whatif_runs_and_keeps_the_invariants(path, tmp_path):
    loaded = load_scenario(path, ["warmup_days=30", "horizon_days=150"]).scaled(0.0005)
    out = tmp_path / "run"
    result = sim.simulate(loaded, replications=2, seed=3, workers=1, out=out, records=True)
    assert result.summary["throughput_cases_per_year"].mean > 0
    assert check_results(out) == []


@pytest.mark.slow
def test_calibrate_check_exit_codes(cli, tmp_path):
    args = [
        "calibrate",
        "--check",
        str(BASELINE),
        "--replications",
        "2",
        "--no-progress",
        "--set",
        "horizon_days=200",
        "--set",
        "warmup_days=20",
    ]
    none = cli(*args)
    assert none.returncode == 2 and "no [[calibration]] targets" in none.stderr
    target = (
        'calibration=[{metric="recovery_rate", target=0.3, tolerance=0.5, source="a wide target"}]'
    )
    ok = cli(*args, "--set", target, "--json")
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert result["passed"] and result["targets"][0]["metric"] == "recovery_rate"
    miss = cli(
        *args, "--set", target.replace("tolerance=0.5", "tolerance=0.001").replace("0.3", "0.9")
    )
    assert miss.returncode == 1 and "FAIL" in miss.stdout
    bad = cli(*args, "--set", target.replace("recovery_rate", "happiness"))
    assert bad.returncode == 2 and "unknown metric(s) happiness" in bad.stderr
