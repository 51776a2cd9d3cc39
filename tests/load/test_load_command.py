"""chakong load end to end against the stub API: exit codes, outputs, violations, workers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import BASELINE, ROOT
from tests.load.load_stub import LENIENT, load_args, no_process_mentions, stub_api

SHORT = ("--rate", "60", "--duration", "3s", "--seed", "3")


def test_a_passing_run_writes_the_results_and_exits_0(chakong, tmp_path):
    out = tmp_path / "out"
    with stub_api(tmp_path) as (url, fixtures):
        r = chakong(*load_args(url, fixtures, out, *SHORT, *LENIENT))
    assert r.returncode == 0, r.stderr + r.stdout
    s = json.loads(r.stdout)
    assert s["slo"]["passed"] and s["generator"]["healthy"]
    assert s["violations"]["post_run"]["reconcile"]["ok"]
    assert s["violations"]["post_run"]["audit"]["ok"]
    assert set(s["latency_ms"]) == {"p50", "p90", "p99", "p999"}
    assert set(s["by_name"]) <= {"POST /v1/cases", "POST /v1/queries", "GET /v1/queries/{id}",
                                 "POST /v1/controls"}  # fmt: skip
    assert s["requests"]["completed"] == sum(e["count"] for e in s["by_name"].values())
    # the simulated mix stands beside the measured one
    assert s["mix"]["POST /v1/cases"]["predicted_share"] > 0
    assert s["mix"]["POST /v1/cases"]["measured_share"] > 0
    assert json.loads((out / "summary.json").read_text()) == s
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "load" and manifest["scenario"]["sha256"]
    for name in ("locust_stats.csv", "locust.html", "plan.json", "demand.json", "worker-0.json"):
        assert (out / name).exists(), name
    stats = (out / "locust_stats.csv").read_text()
    assert "GET /v1/queries/{id}" in stats  # templated names in Locust's own statistics
    assert no_process_mentions(str(out))  # no Locust process outlives the run
    # the report: verdicts, the prediction beside the measurement, latency plots
    report = (out / "report.html").read_text()
    assert "SLOs passed" in report and "Simulated against measured" in report
    predicted = s["mix"]["POST /v1/cases"]["predicted_rate"]
    assert f"{predicted:,.3f}" in report
    assert report.count("data:image/png;base64,") == 2
    assert "http://" not in report.replace(s["run"]["host"], "")  # nothing to fetch


def test_a_failing_slo_exits_1(chakong, tmp_path):
    with stub_api(tmp_path, "--delay", "0.005") as (url, fixtures):
        r = chakong(*load_args(url, fixtures, tmp_path / "out", *SHORT,
                           "--set", 'load.slo.p99_ms={"all" = 1}'))  # fmt: skip
    assert r.returncode == 1, r.stderr
    s = json.loads(r.stdout)
    (check,) = [c for c in s["slo"]["checks"] if not c["passed"] and c["kind"] == "slo"]
    assert check["check"] == "all corrected p99 ms" and check["value"] >= 5


@pytest.mark.slow
def test_an_over_cap_deduction_accepted_is_a_violation(chakong, tmp_path):
    with stub_api(tmp_path, "--break-cap") as (url, fixtures):
        r = chakong(*load_args(url, fixtures, tmp_path / "out", *SHORT,
                           "--set", "load.over_cap_share=1",
                           "--set", "region_defaults.claim_yuan=200000"))  # fmt: skip
    assert r.returncode == 1, r.stderr
    s = json.loads(r.stdout)
    v = s["violations"]
    assert v["checks"]["over_cap_sent"] > 0
    assert v["by_kind"]["cap_breached"] == v["checks"]["over_cap_sent"]
    assert s["errors"]["count"] == 0  # violations are counted apart from HTTP errors


@pytest.mark.slow
def test_two_workers_run_distributed(chakong, tmp_path):
    out = tmp_path / "out"
    with stub_api(tmp_path) as (url, fixtures):
        r = chakong(*load_args(url, fixtures, out, "--rate", "100", "--duration", "4s",
                           "--workers", "2", *LENIENT))  # fmt: skip
    assert r.returncode == 0, r.stderr + r.stdout
    s = json.loads(r.stdout)
    reports = [json.loads((out / f"worker-{i}.json").read_text()) for i in (0, 1)]
    assert [rep["worker"] for rep in reports] == [0, 1]
    assert s["requests"]["completed"] == sum(rep["completed"] for rep in reports)
    assert all(rep["completed"] > 100 for rep in reports)  # each sent about half
    assert abs(s["achieved_rate"] - 100) / 100 < 0.15
    assert no_process_mentions(str(out))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "http://127.0.0.1:9"], "--host: needs --fixtures"),
        (["--rate", "-3"], "--rate"),
        (["--rate", "5", "--demand-multiplier", "2"], "not allowed with argument"),
        (["--duration", "soon"], "--duration"),
        (["--workers", "0"], "--workers"),
        (["--host", "http://127.0.0.1:9", "--fixtures", "missing.json"], "--fixtures"),
        (["--set", "load.slo.error_rate_max=2"], "load.slo.error_rate_max"),
    ],
)
def test_bad_input_exits_2_with_one_line(chakong, tmp_path, args, message):
    r = chakong("load", str(BASELINE), *args, "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_unreachable_host_exits_2(chakong, tmp_path):
    with stub_api(tmp_path) as (_url, fixtures):
        pass  # fixtures of a server that is gone
    r = chakong("load", str(BASELINE), "--host", "http://127.0.0.1:9", "--fixtures", str(fixtures))
    assert r.returncode == 2 and "cannot connect" in r.stderr and "Traceback" not in r.stderr


def test_the_chakong_process_never_imports_locust_or_gevent():
    code = (
        "import sys; from sim.cli import build_parser; build_parser()\n"
        "import load.cli.load, load.harness.plan, load.harness.summary, load.harness.processes\n"
        "import load.harness.report, load.generator.flows, load.generator.plan_file\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent'))\n"
        "assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
