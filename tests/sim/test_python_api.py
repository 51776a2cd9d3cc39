"""The Python API for notebooks: load, override, simulate, compare, sweep, report; plain
Python objects back, and DataFrames when pandas is installed."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

import sim
from sim.model.events import CASE_COLUMNS, EVENT_COLUMNS
from sim.results.metrics import HEADLINE_METRICS
from sim.results.statistics import Summary
from tests.conftest import BASELINE, ROOT
from tests.sim import studies

SHORT = {"horizon_days": 60, "warmup_days": 10}


@pytest.fixture(scope="module")
def base():
    return sim.load(BASELINE, **SHORT)


@pytest.fixture(scope="module")
def with_records(base):
    return sim.simulate(base, replications=2, seed=3, records=True)


def test_load_and_override_leave_the_original_as_it_was(base):
    assert base.scenario.horizon_days == 60 and base.overrides == (
        "horizon_days=60",
        "warmup_days=10",
    )
    more = sim.override(
        base,
        {
            "regions.hunan.officers": 20,
            "regions.hunan.claim_yuan": {"kind": "constant", "value": 5e4},
        },
        name="hunan-20",
    )
    assert more.scenario.name == "hunan-20" and more.scenario.horizon_days == 60
    assert more.scenario.regions["hunan"].officers == 20
    assert more.scenario.regions["hunan"].claim_yuan.mean == 5e4
    assert base.scenario.regions["hunan"].officers == 14  # frozen, untouched


def test_toml_values():
    assert sim.toml_value({"kind": "gamma", "mean": 1.5, "shape": 2}) == (
        '{kind = "gamma", mean = 1.5, shape = 2}'
    )
    assert sim.toml_value([1, "a", True]) == '[1, "a", true]'
    assert sim.toml_value(math.inf) == "inf"
    with pytest.raises(TypeError):
        sim.toml_value(object())


def test_simulate_returns_plain_summaries_and_records(with_records):
    r = with_records
    assert r.name == "baseline" and r.seed == 3 and r.replications == 2
    assert list(r.summary) == list(HEADLINE_METRICS)
    s = r.summary["time_to_close_days_mean"]
    assert isinstance(s, Summary) and s.ci95[0] <= s.mean <= s.ci95[1] and s.n == 2
    assert r.metrics["time_to_close_days_mean"] == s.to_json()
    assert set(r.to_json()) == {"scenario", "seed", "replications", "metrics"}
    assert r.table().startswith("baseline: 2 replications, seed 3")
    assert list(r.cases[0]) == list(CASE_COLUMNS) and list(r.events[0]) == list(EVENT_COLUMNS)
    case = r.cases[0]
    assert isinstance(case["case_id"], int) and isinstance(case["claim_yuan"], float)
    assert isinstance(case["region"], str)
    closed = [c for c in r.cases if c["outcome"] != "open"]
    assert all(c["closed_days"] >= c["filed_days"] for c in closed)
    kinds = {e["event"] for e in r.events}
    assert {"filed", "query_sent", "closed"} <= kinds
    assert r.out_dir is None


def test_the_same_seed_gives_the_same_figures_whatever_the_workers(base, with_records):
    again = sim.simulate(base, replications=2, seed=3, workers=2)
    # NaN (a metric a replication did not observe) compares equal in JSON
    assert json.dumps(again.per_replication) == json.dumps(with_records.per_replication)
    assert again.cases is None


def test_dataframes_when_pandas_is_installed(with_records):
    pd = pytest.importorskip("pandas")
    frame = with_records.frame()
    assert list(frame.index) == list(HEADLINE_METRICS)
    assert list(frame.columns) == ["mean", "ci95_low", "ci95_high", "n"]
    cases = with_records.cases_frame()
    assert isinstance(cases, pd.DataFrame) and list(cases.columns) == list(CASE_COLUMNS)
    assert len(cases) == len(with_records.cases)
    assert len(with_records.events_frame()) == len(with_records.events)
    assert len(with_records.replications_frame()) == 2


def test_records_must_be_asked_for(base):
    r = sim.simulate(base, replications=2, seed=3)
    with pytest.raises(ValueError, match="run with records=True"):
        r.cases_frame()


@pytest.mark.slow
def test_compare_gives_the_json_object_and_rows(base):
    more = sim.load(studies.MORE_OFFICERS, **SHORT)
    c = sim.compare(base, more, replications=3, seed=4)
    obj = c.to_json()
    assert obj["base"] == "baseline" and obj["others"][0]["scenario"] == more.scenario.name
    assert json.loads(json.dumps(obj)) == obj  # plain JSON-ready data
    d = c.differences[0]["officer_wait_days_mean"]
    assert d.diff_mean < 0 and d.ci95[0] <= d.diff_mean <= d.ci95[1]
    rows = c.rows()
    assert len(rows) == len(HEADLINE_METRICS) and rows[0]["scenario"] == more.scenario.name
    pd = pytest.importorskip("pandas")
    assert isinstance(c.frame(), pd.DataFrame) and len(c.frame()) == len(rows)


@pytest.mark.slow
def test_sweep_and_report(base, tmp_path):
    sw = sim.sweep(
        base,
        {"regions.hunan.officers": (12, 16)},
        design="grid",
        samples=3,
        replications=2,
        seed=1,
        out=tmp_path / "sweep",
    )
    assert [p["regions.hunan.officers"] for p in sw.design.points] == [12, 14, 16]
    assert sw.rows()[0]["regions.hunan.officers"] == 12
    assert "src" in sw.sensitivity["throughput_cases_per_year"]
    assert (tmp_path / "sweep" / "report.html").is_file()
    run = sim.simulate(base, replications=2, seed=1, out=tmp_path / "run", report=False)
    assert run.out_dir == tmp_path / "run" and not (tmp_path / "run" / "report.html").exists()
    path = sim.report(tmp_path / "run")
    assert path == tmp_path / "run" / "report.html" and path.is_file()


@pytest.mark.slow
def test_precision_from_python(base):
    r = sim.simulate(base, seed=2, precision=0.5, precision_metrics=["backlog_mean"])
    assert r.precision is not None and r.precision.stopped_by == "precision"
    assert r.replications == r.precision.reached_at + 5


@pytest.mark.slow
def test_the_readme_example_runs_as_a_script(tmp_path):
    """The README's Python example, run as a script, prints what the README shows."""
    pytest.importorskip("pandas")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    res = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    shown = re.search(r"prints[^\n]*:\n\n```\n(.*?)```", section, re.S).group(1)
    # the same lines, numbers aside (the model's figures move as the model deepens)
    assert _shape(res.stdout) == _shape(shown)


def _shape(text: str) -> list[str]:
    """Lines with every number as N and runs of spaces as one (columns move with widths)."""
    numbers = re.compile(r"[-+]?\d[\d,.]*(e[-+]?\d+)?")
    return [re.sub(r"\s+", " ", numbers.sub("N", line)).strip() for line in text.splitlines()]
