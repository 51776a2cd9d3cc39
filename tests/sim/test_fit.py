"""Calibration as a fit (``chakong calibrate --fit``): it recovers a parameter it knows, it
refuses bad [fit] tables, and ``--check`` judges targets, never checks."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

import sim
from sim.errors import UserError
from sim.scenario import load_scenario
from tests.conftest import BASELINE

# a cheap scenario: the baseline for a short while, a third of its volume
SHORT = ["horizon_days=120", "warmup_days=20"]
SCALE = 0.3
REPS = 2
SEED = 7
TRUE_P = 0.2  # the objection probability the targets are made with


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fit.toml"
    path.write_text(f'extends = "{BASELINE.as_posix()}"\n{body}', encoding="utf-8")
    return path


def _ratio_at(p: float) -> float:
    """The case-to-matter ratio simulated with objection probability ``p``."""
    loaded = sim.load(BASELINE, [*SHORT, f"matters.objection_probability={p}"], scale=SCALE)
    result = sim.simulate(loaded, replications=REPS, seed=SEED)
    return result.summary["case_to_matter_ratio"].mean


@pytest.mark.slow
def test_the_fit_recovers_the_parameter_its_targets_were_made_with(tmp_path):
    published = _ratio_at(TRUE_P)
    path = _file(
        tmp_path,
        f"""
[fit]
matters.objection_probability = [0.02, 0.5]

[[calibration]]
metric = "case_to_matter_ratio"
target = {published!r}
tolerance = 0.004
source = "made with objection_probability = {TRUE_P}"

[[calibration]]
metric = "recovery_rate"
target = 0.99
tolerance = 0.01
role = "check"
""",
    )
    loaded = sim.load(path, SHORT, scale=SCALE)
    out = tmp_path / "out"
    outcome = sim.fit(loaded, replications=REPS, seed=SEED, samples=4, out=out)
    fitted = outcome.fitted["matters.objection_probability"]
    # the ratio moves one for one with the probability (1 + p, plus nothing else here):
    # within a quarter of the tolerance of the ratio is within 0.001 + the jitter of p
    assert abs(fitted - TRUE_P) < 0.01, outcome.to_json()["evaluations"]
    assert outcome.passed and outcome.stopped_by == "good enough"
    assert [r["role"] for r in outcome.rows] == ["target", "check"]
    assert not outcome.rows[1]["passed"]  # the check is shown, missed, and fails nothing
    # the results folder: the report of every evaluation, the values two ways
    report = json.loads((out / "fit.json").read_text(encoding="utf-8"))
    assert report["fitted"] == outcome.fitted
    assert len(report["evaluations"]) == len(outcome.evaluations) >= 4
    assert (
        (out / "fitted.set")
        .read_text(encoding="utf-8")
        .startswith("--set matters.objection_probability=")
    )
    fitted_file = out / "fitted.toml"
    assert tomllib.loads(fitted_file.read_text(encoding="utf-8"))["matters"] == {
        "objection_probability": fitted
    }
    again = load_scenario(fitted_file, SHORT)  # a scenario of its own, extending the file
    assert again.scenario.matters.objection_probability == fitted
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["kind"] == "fit"


def test_check_judges_targets_and_never_checks(cli, tmp_path):
    body = """
[[calibration]]
metric = "cases_filed_per_year"
target = 10_000
tolerance_rel = 0.5
scales_with_volume = true

[[calibration]]
metric = "money_disbursed_yuan_per_year"
target = 2.3e12
tolerance_rel = 0.1
role = "check"
source = "money recovered 2024: 2.3 trillion yuan"
"""
    path = _file(tmp_path, body)
    args = ["calibrate", "--check", str(path), "--replications", "2", "--no-progress"]
    args += ["--scale", str(SCALE)]
    args += [f"--set={s}" for s in SHORT]
    ok = cli(*args)
    assert ok.returncode == 0, ok.stderr
    assert "check: off" in ok.stdout and "all targets met" in ok.stdout
    missed = cli(*args, "--set", "calibration.0.target=1e9")
    assert missed.returncode == 1 and "FAIL" in missed.stdout


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "fit: no free parameters"),
        ("[fit]\nmatters.objection_probability = [0.3, 0.1]\n", "low (0.3) must be less"),
        ("[fit]\nmatters.objection_probability = [0.3]\n", "expected [low, high]"),
        ("[fit]\nmatters.objection_odds = [0.1, 0.3]\n", "has no field 'matters.objection_odds'"),
        ("[fit]\nregions.hunan.officers = [10, 20]\n", "is a whole number; a fit needs"),
        ("[fit]\nmatters.objection_probability = [0.1, 3]\n", "at its HIGH"),
    ],
    ids=["no-fit", "low-above-high", "one-bound", "unknown-path", "whole", "invalid-end"],
)
def test_bad_fit_tables_are_refused_naming_file_and_field(cli, tmp_path, body, problem):
    target = '[[calibration]]\nmetric = "case_to_matter_ratio"\ntarget = 1.2\ntolerance = 0.1\n'
    path = _file(tmp_path, body + target)
    r = cli("calibrate", "--fit", str(path), "--no-progress")
    assert r.returncode == 2, r.stdout
    assert str(path) in r.stderr and problem in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_a_fit_needs_targets_and_its_flags_need_it(cli, tmp_path):
    path = _file(tmp_path, "[fit]\nmatters.objection_probability = [0.1, 0.3]\n")
    r = cli("calibrate", "--fit", str(path), "--no-progress")
    assert r.returncode == 2 and f"{path}: no [[calibration]] targets" in r.stderr
    r = cli("calibrate", str(BASELINE), "--samples", "4")
    assert r.returncode == 2 and "--samples: only with --fit" in r.stderr
    r = cli("calibrate", "--fit", str(path), "--samples", "1")
    assert r.returncode == 2 and "must be at least 2" in r.stderr
    with pytest.raises(UserError, match="--max-evaluations: must be at least 1"):
        sim.fit(load_scenario(path), max_evaluations=0)
