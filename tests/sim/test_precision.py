"""Precision-driven replications: the Hoad-Robinson-Davies rule, how metrics are judged,
independence from the number of workers, and ``--precision`` on the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from sim.engine.executors import Executor, LocalExecutor, Task
from sim.engine.runner import run_group
from sim.errors import UserError
from sim.results.replication import ReplicationResult
from sim.scenario import load_scenario
from sim.study.precision import (
    RATE_FLOOR,
    MetricPrecision,
    PrecisionRule,
    Sequential,
    judge,
    judge_metric,
)
from tests.conftest import BASELINE

# ---------------------------------------------------------------- judging one metric


def test_relative_half_width_against_the_target():
    values = [100.0, 102.0, 98.0, 101.0, 99.0]
    m = judge_metric("s", "backlog_mean", values, 0.02)
    hw = 2.776445 * np.std(values, ddof=1) / math.sqrt(5)  # t(0.975, 4)
    assert m.relative == pytest.approx(hw / 100, rel=1e-5)
    assert m.status == "met"  # 1.96% <= 2%
    assert judge_metric("s", "backlog_mean", values, 0.01).status == "not met"


def test_a_metric_that_never_varies_meets_any_target():
    m = judge_metric("s", "late_answer_rate", [0.0, 0.0, 0.0], 0.001)
    assert (m.status, m.relative, m.note) == ("met", 0.0, "no variation")


def test_a_metric_never_observed_is_not_judged_and_does_not_block():
    m = judge_metric("s", "time_to_recovery_days_mean", [math.nan] * 4, 0.02)
    assert m.status == "not judged" and m.note == "no observations"
    rule = PrecisionRule(0.02, max_replications=10)
    seq = Sequential(rule)
    assert not any(seq.step(n, [m]) for n in range(3, 8))
    assert seq.step(8, [m]) and seq.outcome.stopped_by == "precision"


def test_small_rates_are_judged_against_one_percentage_point():
    values = [0.0, 0.0002, 0.0, 0.0001]  # mean 0.000075: relative width would be huge
    m = judge_metric("s", "late_answer_rate", values, 0.02)
    hw = 3.182446 * np.std(values, ddof=1) / 2
    assert m.relative == pytest.approx(hw / RATE_FLOOR, rel=1e-5)
    assert m.status == "met" and "1 percentage point" in m.note
    # the same values as a non-rate are judged relative to their mean
    assert judge_metric("s", "officer_wait_days_mean", values, 0.02).status == "not met"


def test_mean_zero_with_spread_and_a_single_observation_do_not_meet():
    m = judge_metric("s", "officer_wait_days_mean", [-1.0, 1.0, 0.0], 0.5)
    assert m.status == "not met" and "undefined" in m.note
    m = judge_metric("s", "officer_wait_days_mean", [3.0, math.nan, math.nan], 0.5)
    assert m.status == "not met" and "only 1" in m.note


def test_judge_uses_only_the_chosen_metrics():
    reps = [{"backlog_mean": 10.0 + i, "officer_wait_days_mean": float(i)} for i in range(4)]
    every = judge([("s", reps)], PrecisionRule(0.02))
    assert {m.metric for m in every} == {"backlog_mean", "officer_wait_days_mean"}
    one = judge([("s", reps)], PrecisionRule(0.02, metrics=("backlog_mean",)))
    assert [m.metric for m in one] == ["backlog_mean"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 1.5}, "--precision: must be between 0 and 1"),
        ({"target": 0.02, "max_replications": 2}, "--max-replications 2: must be at least"),
        ({"target": 0.02, "metrics": ("speed",)}, "--precision-metric speed: unknown metric"),
    ],
)
def test_bad_rules_name_the_flag(kwargs, message):
    with pytest.raises(UserError, match=message):
        PrecisionRule(**kwargs)


# ---------------------------------------------------------------- the sequential rule


def _verdicts(pattern: str) -> list[list[MetricPrecision]]:
    """'y'/'n' per replication count n = 3, 4, ...: the target met or not."""
    return [
        [
            MetricPrecision(
                "s", "m", 1.0, 0.0, 0.0 if c == "y" else 1.0, "met" if c == "y" else "not met"
            )
        ]
        for c in pattern
    ]


def _stop(pattern: str, rule: PrecisionRule) -> Sequential:
    seq = Sequential(rule)
    for n, v in enumerate(_verdicts(pattern), start=rule.initial):
        if seq.step(n, v):
            return seq
    raise AssertionError("did not stop")


def test_stops_once_the_target_held_over_the_look_ahead():
    seq = _stop("yyyyyyyyyy", PrecisionRule(0.02))
    assert seq.outcome.stopped_by == "precision"
    assert seq.outcome.reached_at == 3 and seq.outcome.replications == 3 + 5


def test_a_failure_during_the_look_ahead_restarts_the_search():
    #            n=3 4 5 6 7 8 9 10 11 12
    seq = _stop("nyyny" + "yyyyyyyy", PrecisionRule(0.02))
    assert seq.outcome.reached_at == 7 and seq.outcome.replications == 12


def test_the_cap_stops_a_run_that_never_gets_there_and_says_so():
    rule = PrecisionRule(0.02, max_replications=9)
    seq = _stop("nnnnnnnnnnnn", rule)
    assert seq.outcome.stopped_by == "cap" and seq.outcome.replications == 9
    assert seq.outcome.reached_at is None
    assert "stopped at the cap of 9 replications" in seq.outcome.describe()
    assert "m (±100.0%)" in seq.outcome.describe()


def test_the_look_ahead_grows_beyond_100_replications():
    rule = PrecisionRule(0.02)
    assert [rule.k_limit(n) for n in (3, 100, 101, 200, 260)] == [5, 5, 5, 10, 13]


# ---------------------------------------------------------------- independence from workers


def _until(executor, scenarios, rule, seed=7):
    """A group run until the rule is met: the runs and what the algorithm decided."""
    algorithm = Sequential(rule)
    group = run_group(executor, scenarios, seed, 3, until=algorithm, show_progress=False)
    return group, algorithm.outcome


class FakeExecutor(Executor):
    """Returns replications whose metrics are a fixed function of their index, computing
    ``parallelism`` at a time (as a pool would)."""

    def __init__(self, parallelism: int) -> None:
        self.parallelism = parallelism
        self.computed = 0

    def run(self, tasks, progress=None):
        self.computed += len(tasks)
        out = []
        for t in tasks:
            rng = np.random.default_rng([t.seed, t.replication, len(t.scenario.name)])
            spread = 2.0 if "noisier" in t.scenario.name else 1.0
            metrics = {
                "backlog_mean": 1000 + 40 * spread * rng.standard_normal(),
                "officer_wait_days_mean": 3 + rng.exponential(),
            }
            out.append(ReplicationResult(t.replication, metrics, [], [], [], [], 0, 0.0))
        return out

    def describe(self):
        return {"kind": "fake"}


@settings(max_examples=25, deadline=None)
@given(parallelism=hs.integers(1, 9), target=hs.sampled_from([0.01, 0.02, 0.05, 0.2]))
def test_the_result_does_not_depend_on_how_many_ran_at_once(parallelism, target):
    scenario = load_scenario(BASELINE).scenario
    rule = PrecisionRule(target, max_replications=40)
    serial, serial_outcome = _until(FakeExecutor(1), [scenario], rule)
    wide = FakeExecutor(parallelism)
    group, outcome = _until(wide, [scenario], rule)
    assert outcome.replications == serial_outcome.replications
    assert outcome.stopped_by == serial_outcome.stopped_by
    assert _same([r.metrics for r in group.results[0]], [r.metrics for r in serial.results[0]])
    assert wide.computed >= group.replications  # surplus computed ahead is discarded


def test_a_group_stops_only_when_every_scenario_is_precise():
    """A comparison or sweep judges all its scenarios at once: the noisier one decides."""
    calm = load_scenario(BASELINE).scenario
    noisy = load_scenario(BASELINE, ["name=noisier-than-the-baseline"]).scenario
    rule = PrecisionRule(0.02, max_replications=200, metrics=("backlog_mean",))
    alone, alone_outcome = _until(FakeExecutor(2), [calm], rule)
    both, both_outcome = _until(FakeExecutor(2), [calm, noisy], rule)
    assert alone_outcome.stopped_by == both_outcome.stopped_by == "precision"
    assert both.replications == both_outcome.replications > alone.replications
    assert len(both.results) == 2 and all(len(r) == both.replications for r in both.results)
    assert {m.scenario for m in both_outcome.metrics} == {calm.name, noisy.name}
    assert all(m.status == "met" for m in both_outcome.metrics)


@pytest.mark.slow
def test_real_replications_with_one_and_three_workers_agree():
    scenario = load_scenario(BASELINE, ["horizon_days=90", "warmup_days=10"]).scenario
    rule = PrecisionRule(0.03, max_replications=7, metrics=("throughput_cases_per_year",))
    groups = []
    for workers in (1, 3):
        with LocalExecutor(workers, show_progress=False) as ex:
            groups.append(_until(ex, [scenario], rule, seed=21))
    (one, one_outcome), (three, three_outcome) = groups
    assert one_outcome.replications == three_outcome.replications
    assert _same([r.metrics for r in one.results[0]], [r.metrics for r in three.results[0]])


def test_tasks_name_everything_a_replication_depends_on():
    scenario = load_scenario(BASELINE, ["horizon_days=30", "warmup_days=5"]).scenario
    with LocalExecutor(1) as ex:
        a, b = ex.run([Task(scenario, 4, 1), Task(scenario, 4, 1)])
    assert _same(a.metrics, b.metrics)


# ---------------------------------------------------------------- the command line

SHORT = ["--set", "horizon_days=150", "--set", "warmup_days=20", "--workers", "2"]


@pytest.mark.slow
def test_run_stops_when_the_target_is_reached_and_says_so(cli, tmp_path):
    res = cli(
        "run",
        str(BASELINE),
        *SHORT,
        "--precision",
        "0.05",
        "--precision-metric",
        "throughput_cases_per_year",
        "--no-records",
        "--json",
        "--out",
        str(tmp_path / "p"),
    )
    assert res.returncode == 0, res.stderr
    obj = json.loads(res.stdout)
    p = obj["precision"]
    assert p["stopped_by"] == "precision" and p["target"] == 0.05
    assert obj["replications"] == p["replications"] == p["reached_at"] + 5
    [m] = p["metrics"]
    assert m["metric"] == "throughput_cases_per_year" and m["status"] == "met"
    s = obj["metrics"]["throughput_cases_per_year"]
    assert (s["ci95"][1] - s["ci95"][0]) / 2 <= 0.05 * s["mean"]
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary == obj
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["precision"]["stopped_by"] == "precision"


@pytest.mark.slow
def test_run_stops_at_the_cap_and_names_what_missed(cli, tmp_path):
    res = cli(
        "run",
        str(BASELINE),
        *SHORT,
        "--precision",
        "0.001",
        "--max-replications",
        "4",
        "--no-records",
        "--no-report",
        "--out",
        str(tmp_path / "c"),
    )
    assert res.returncode == 0, res.stderr
    assert "baseline: 4 replications" in res.stdout
    assert "not confirmed; stopped at the cap of 4 replications" in res.stdout
    assert "not within target: " in res.stdout and "NOT MET" in res.stdout
    assert not (tmp_path / "c" / "report.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--precision", "2"], "--precision: must be between 0 and 1"),
        (["--precision", "x"], "--precision: expected a number such as 0.02"),
        (["--max-replications", "9"], "--max-replications: only with --precision"),
        (["--precision", "0.02", "--precision-metric", "speed"], "--precision-metric speed: "),
    ],
)
def test_bad_precision_flags_exit_2(cli, tmp_path, args, message):
    res = cli("run", str(BASELINE), *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "x").exists()


def _same(a, b) -> bool:
    """Equal, counting NaN (a metric a replication did not observe) equal to NaN."""
    return json.dumps(a) == json.dumps(b)
