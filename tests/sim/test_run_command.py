"""`chakong run` end to end, as a user runs it: table, --json, results folder, bad input."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import pytest

from sim.model.events import EVENT_COLUMNS
from tests.conftest import BASELINE, assert_holds
from tests.sim.command import invoke

SHORT = ["--set", "horizon_days=200", "--set", "warmup_days=20", "--replications", "2"]
REQUIRED = [
    "throughput_cases_per_year",
    "time_to_close_days_mean",
    "time_to_close_days_p50",
    "time_to_close_days_p90",
    "time_to_recovery_days_mean",
    "recovery_rate",
    "fully_performed_rate",
    "terminated_for_now_rate",
    "officer_utilization",
    "officer_wait_days_mean",
    "time_in_system_days_mean",
    "queries_per_day_central",
    "queries_per_day_local",
]


@pytest.fixture(scope="module")
def json_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "baseline"
    res = invoke("run", str(BASELINE), *SHORT, "--seed", "9", "--json", "--out", str(out))
    assert res.returncode == 0, res.stderr
    return res, out


def test_json_is_one_object_with_every_metric(json_run):
    res, _ = json_run
    obj = json.loads(res.stdout)  # exactly one JSON document on stdout
    assert res.stdout.count("\n") == 1
    assert obj["scenario"] == "baseline" and obj["seed"] == 9 and obj["replications"] == 2
    for name in REQUIRED:
        m = obj["metrics"][name]
        assert set(m) == {"mean", "ci95", "n"} and m["n"] == 2
        assert m["ci95"][0] <= m["mean"] <= m["ci95"][1]


def test_results_folder_holds_numbers_manifest_log_and_plots(json_run):
    res, out = json_run
    assert_holds(
        out,
        "summary.json",
        "manifest.json",
        "cases.csv",
        "events.csv",
        "replications.csv",
        "backlog.csv",
        "time_to_close.png",
        "backlog.png",
    )
    assert json.loads((out / "summary.json").read_text()) == json.loads(res.stdout)
    for png in ("time_to_close.png", "backlog.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["sha256"] == hashlib.sha256(BASELINE.read_bytes()).hexdigest()
    assert manifest["scenario"]["resolved"]["horizon_days"] == 200
    assert manifest["scenario"]["overrides"] == ["horizon_days=200", "warmup_days=20"]
    assert manifest["seed"] == 9 and manifest["replications"] == 2
    assert "--json" in manifest["command"] and manifest["versions"]["simpy"]
    assert not list(out.parent.glob(".*partial*"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_event_log_columns_events_and_invariants(json_run):
    _, out = json_run
    with (out / "events.csv").open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == list(EVENT_COLUMNS)
    events = _rows(out / "events.csv")
    kinds = {e["event"] for e in events}
    assert {
        "filed",
        "query_sent",
        "query_answered",
        "freeze",
        "freeze_failed",
        "deduct",
        "disbursed",
        "closed",
    } <= kinds
    cases = {(c["replication"], c["case_id"]): c for c in _rows(out / "cases.csv")}
    replications = _rows(out / "replications.csv")
    assert len(cases) == sum(int(r["cases_filed"]) for r in replications)
    opened = ("filed", "restored", "objection")  # a matter's first event, by its kind
    filed = {(e["replication"], e["case_id"]) for e in events if e["event"] in opened}
    closed = {(e["replication"], e["case_id"]) for e in events if e["event"] == "closed"}
    assert filed == set(cases)
    for key, c in cases.items():  # every filed case is closed, or open at the end
        assert (c["outcome"] == "open") == (key not in closed)
    paid: dict[tuple[str, str], float] = defaultdict(float)
    fund_by_year: dict[tuple[str, str, int], float] = defaultdict(float)
    for e in events:
        key = (e["replication"], e["case_id"])
        if e["event"] == "disbursed":
            paid[key] += float(e["amount_yuan"])
        if e["event"] == "deduct" and e["asset_type"] == "provident_fund":
            year = 2022 if float(e["time_days"]) < 122 else 2023  # start 2022-09-01
            fund_by_year[(*key, year)] += float(e["amount_yuan"])
    for key, amount in paid.items():
        assert amount <= float(cases[key]["claim_yuan"]) + 0.01
    assert fund_by_year and max(fund_by_year.values()) <= 50000 + 0.01
    times = [(int(e["replication"]), float(e["time_days"])) for e in events]
    assert times == sorted(times)  # in time order within each replication


def test_table_output_and_progress(cli, tmp_path):
    res = cli("run", str(BASELINE), *SHORT, "--workers", "1", "--out", str(tmp_path / "t"))
    assert res.returncode == 0, res.stderr
    assert "95% interval" in res.stdout and "throughput_cases_per_year" in res.stdout
    assert "simulated days" in res.stderr  # the progress bar
    assert f"results: {tmp_path / 't'}" in res.stderr


def test_bad_scenario_exits_2_and_writes_nothing(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BASELINE.read_text().replace("nothing_share = 0.4", "nothing_share = 1.3"))
    out = tmp_path / "out"
    res = cli("run", str(bad), "--out", str(out))
    assert res.returncode == 2
    assert f"{bad}: debtors.nothing_share: Input should be less than or equal to 1" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replications", "0"], "must be at least 1"),
        (["--replications", "1"], "at least 2 are needed"),
        (["--workers", "two"], "expected a whole number"),
        (["--set", "regions.hunan.officers"], "expected PATH=VALUE"),
        (["--set", "regions.hunan.officers=-1"], "regions.hunan.officers: Input should be"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(cli, tmp_path, args, message):
    res = cli("run", str(BASELINE), *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists()


def test_out_folder_that_has_files_is_refused(cli, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    res = cli("run", str(BASELINE), *SHORT, "--out", str(tmp_path))
    assert res.returncode == 2 and "already exists and is not empty" in res.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_missing_file_exits_2(cli, tmp_path):
    res = cli("run", str(tmp_path / "nope.toml"))
    assert res.returncode == 2 and "nope.toml: file not found" in res.stderr
