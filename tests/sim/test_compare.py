"""``chakong compare``: common random numbers, paired differences, --json, the folder,
and bad input."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from scipy import stats as st

import sim
from sim.results.metrics import HEADLINE_METRICS
from sim.study.compare import format_comparison, independent_difference, paired_difference
from tests.conftest import BASELINE, assert_holds
from tests.sim import studies


@pytest.fixture(scope="session")
def compared(tmp_path_factory):
    return studies.compare_folder(tmp_path_factory)


# ---------------------------------------------------------------- the statistics


def test_paired_difference_is_scipys_paired_t_interval():
    base = [10.0, 12.0, 9.0, 11.0, 13.0]
    other = [9.0, 11.5, 8.0, 10.2, 12.1]
    d = paired_difference(base, other)
    ci = st.ttest_rel(other, base).confidence_interval(0.95)
    assert d.ci95 == pytest.approx((ci.low, ci.high))
    assert d.diff_mean == pytest.approx(np.mean(other) - np.mean(base))
    assert d.base_mean == pytest.approx(11.0) and d.n == 5
    assert d.significant  # every pair fell by about 1: the interval is below 0


def test_independent_difference_is_welchs_interval():
    base, other = [10.0, 12.0, 9.0, 11.0], [9.0, 13.5, 8.0, 10.2, 12.0]
    d = independent_difference(base, other)
    ci = st.ttest_ind(other, base, equal_var=False).confidence_interval(0.95)
    assert d.ci95 == pytest.approx((ci.low, ci.high))
    assert not d.significant


def test_pairs_with_a_missing_value_are_left_out_and_constant_differences_are_exact():
    d = paired_difference([1.0, math.nan, 3.0, 5.0], [2.0, 4.0, 4.0, 6.0])
    assert d.n == 3 and d.ci95 == (1.0, 1.0) and d.significant
    zero = paired_difference([2.0, 3.0], [2.0, 3.0])
    assert zero.ci95 == (0.0, 0.0) and not zero.significant
    assert zero.to_json() == {
        "base_mean": 2.5,
        "mean": 2.5,
        "diff_mean": 0.0,
        "diff_ci95": [0.0, 0.0],
        "significant": False,
    }


@pytest.mark.slow
def test_pairing_narrows_the_interval_of_a_real_what_if():
    """Common random numbers against independent seeds, on 20% more officers: the same six
    replications of the what-if, paired with the baseline's (same seed) or not (another
    seed). Pairing removes the noise the two runs share."""
    short = {"horizon_days": 150, "warmup_days": 20}
    base = sim.load(BASELINE, **short)
    what_if = sim.load(studies.MORE_OFFICERS, **short)
    paired = sim.compare(base, what_if, replications=6, seed=5, workers=2)
    independent = sim.simulate(what_if, replications=6, seed=6, workers=2)
    base_values = paired.results[0]
    widths = {}
    for m in (
        "throughput_cases_per_year",
        "time_to_close_days_mean",
        "time_to_recovery_days_mean",
        "backlog_mean",
        # not the officer wait: the baseline's officers are busy 94% of their time, so with
        # 20% more the wait collapses and its noise is the what-if's own (pairing narrows
        # it only 1.2 times); the officers' utilisation shares the arrivals' noise
        "officer_utilization",
    ):
        p = paired.differences[0][m]
        i = independent_difference(
            [r.metrics[m] for r in base_values], [r[m] for r in independent.per_replication]
        )
        widths[m] = (p.half_width, i.half_width)
        assert p.half_width < 0.8 * i.half_width, (m, p, i)
    # the same arrivals: filings are identical replication by replication
    filed = paired.differences[0]["cases_filed_per_year"]
    assert filed.ci95 == (0.0, 0.0) and filed.diff_mean == 0.0
    print("half-widths paired vs independent:", widths)


# ---------------------------------------------------------------- the command


@pytest.mark.slow
def test_json_is_one_object_of_the_documented_shape(compared):
    _, res = compared
    assert res.stdout.count("\n") == 1
    obj = json.loads(res.stdout)
    assert set(obj) == {"base", "others"} and obj["base"] == "baseline"
    assert [o["scenario"] for o in obj["others"]] == [
        "baseline-more-officers",
        "baseline-all-central",
    ]
    for other in obj["others"]:
        assert set(other) == {"scenario", "metrics"}
        assert list(other["metrics"]) == list(HEADLINE_METRICS)
        for name, m in other["metrics"].items():
            assert set(m) == {"base_mean", "mean", "diff_mean", "diff_ci95", "significant"}
            lo, hi = m["diff_ci95"]
            if lo is None:
                assert not m["significant"]
                continue
            assert lo <= m["diff_mean"] <= hi, name
            assert m["significant"] == (lo > 0 or hi < 0)
    more, central = (o["metrics"] for o in obj["others"])
    # direction where common sense fixes it: more officers never lengthen the wait
    assert more["officer_wait_days_mean"]["diff_mean"] < 0
    assert more["officer_wait_days_mean"]["significant"]
    assert central["queries_per_day_local"]["mean"] == 0  # the local channel is off


@pytest.mark.slow
def test_the_folder_holds_every_scenario_and_a_report(compared):
    out, res = compared
    assert_holds(out, "comparison.json", "comparison.csv", "manifest.json", "report.html")
    folder = studies.read_json(out / "comparison.json")
    assert folder["base"] == json.loads(res.stdout)["base"]
    assert folder["others"] == json.loads(res.stdout)["others"]
    assert folder["seed"] == 5 and folder["replications"] == 4
    subs = [s["folder"] for s in folder["scenarios"]]
    assert subs == [
        "scenarios/0-baseline",
        "scenarios/1-baseline-more-officers",
        "scenarios/2-baseline-all-central",
    ]
    for sub in subs:
        summary = studies.read_json(out / sub / "summary.json")
        assert summary["replications"] == 4 and summary["seed"] == 5
        name = sub.split("-", 1)[1]  # the file is named like its scenario
        assert (out / sub / "scenario_files" / f"1-{name}.toml").is_file()
    manifest = studies.read_json(out / "manifest.json")
    assert manifest["kind"] == "compare"
    assert [s["name"] for s in manifest["scenarios"]] == [s["name"] for s in folder["scenarios"]]
    assert manifest["scenarios"][1]["overrides"] == ["horizon_days=150", "warmup_days=20"]
    with (out / "comparison.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * len(HEADLINE_METRICS)
    assert "report: " in res.stderr and "report.html" in res.stderr


def test_the_table_marks_significant_differences():
    short = {"horizon_days": 60, "warmup_days": 10}
    base = sim.load(BASELINE, **short)
    other = sim.load(studies.MORE_OFFICERS, **short)
    text = format_comparison(sim.compare(base, other, replications=5, seed=2))
    assert "compare: 2 scenarios, 5 replications each, seed 2" in text
    assert "baseline-more-officers against baseline:" in text
    assert "95% interval" in text and "common random numbers" in text
    line = next(x for x in text.splitlines() if x.startswith("officer_wait_days_mean"))
    assert line.rstrip().endswith("*")
    line = next(x for x in text.splitlines() if x.startswith("cases_filed_per_year"))
    assert "[+0, +0]" in line and not line.rstrip().endswith("*")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([str(BASELINE)], "the following arguments are required: OTHER"),
        ([str(BASELINE), str(BASELINE)], "scenario name 'baseline' is also the name of"),
        ([str(BASELINE), "nope.toml"], "nope.toml: file not found"),
        ([str(BASELINE), str(studies.MORE_OFFICERS), "--replications", "1"], "at least 2"),
        (
            [str(BASELINE), str(studies.MORE_OFFICERS), "--set", "regions.hunan.officers=-1"],
            "regions.hunan.officers: Input should be",
        ),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(cli, tmp_path, args, message):
    res = cli("compare", *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists()
