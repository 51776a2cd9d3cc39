"""chakong demand: event rows mapped to API requests, rates by hour, the command."""

from __future__ import annotations

import json

import pytest

from sim.model.events import Event, EventKind
from sim.scenario import load_scenario
from sim.study.demand import CASES, count_demand, request_kind, summarize_demand
from tests.conftest import BASELINE
from tests.sim.tiny import TINY, tiny


def row(t, case, event, asset="", channel="", agency="", region="r"):
    return Event(
        0, t, case, region, EventKind(event), asset, channel, agency=agency, debtor_id=case
    )


def test_rows_become_requests_by_kind_hour_and_asset(tmp_path):
    scenario = tiny(tmp_path, "warmup_days=10", "horizon_days=12")
    q = request_kind("POST /v1/queries", "central")
    rows = [
        row(9.9, 1, "filed"),  # before the window: not counted
        row(10.0, 1, "filed"),  # 00:00
        row(10.5, 1, "query_sent", channel="central", agency="bank"),  # 12:00
        row(10.5, 1, "query_sent", channel="central", agency="fund_centre"),  # same query
        row(10.6, 1, "query_answered", channel="central", agency="bank"),  # not a request
        row(11.5, 1, "freeze", "bank_deposit", "central", "bank"),
        row(11.5, 1, "freeze_failed", "bank_deposit", "central", "bank"),  # an attempt
        row(11.75, 1, "deduct", "bank_deposit", "central", ""),  # no agency on deductions
        row(11.8, 1, "disbursed", "bank_deposit", "central", ""),  # not an API request
        row(12.0, 1, "unfreeze", "bank_deposit", "central", "bank"),  # at the horizon: out
    ]
    d = count_demand(rows, scenario)
    assert d.window_days == 2
    assert d.total(CASES) == 1 and d.by_hour[CASES][0] == 1
    assert d.total(q) == 1 and d.by_hour[q][12] == 1
    freeze = request_kind("POST /v1/controls", "freeze")
    deduct = request_kind("POST /v1/controls", "deduct")
    assert d.total(freeze) == 2 and d.by_hour[freeze][12] == 2
    assert d.total(deduct) == 1 and d.by_hour[deduct][18] == 1
    assert d.controls_by_asset == {("freeze", "bank_deposit"): 2, ("deduct", "bank_deposit"): 1}
    assert d.in_person == {}
    assert d.queries_by_region == {("r", "central"): 1}
    assert d.busiest_hour_requests == 2  # the two freeze attempts in hour 12 of day 11


def test_in_person_controls_are_counted_apart(tmp_path):
    scenario = tiny(
        tmp_path, "warmup_days=0", "horizon_days=1", "channels.central.online_deduct=false"
    )
    rows = [row(0.5, 1, "deduct", "bank_deposit", "central", "")]
    d = count_demand(rows, scenario)
    assert d.total(request_kind("POST /v1/controls", "deduct")) == 0
    assert d.in_person == {("deduct", "bank_deposit"): 1}


def test_rates_per_second_peak_hour_and_shares(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    loaded = load_scenario(path, ["warmup_days=0", "horizon_days=1"])
    rows = [row(9 / 24 + i / 1e4, i, "filed") for i in range(36)]  # 36 filings in 09:00
    rows += [row(0.5, 1, "query_sent", channel="central", agency="bank")]
    d = summarize_demand(loaded, 1, [count_demand(rows, loaded.scenario)])
    cases = d["requests"][CASES]
    assert cases["per_day"]["mean"] == 36
    assert cases["per_second"]["mean"] == pytest.approx(36 / 86_400)
    assert cases["peak_hour"] == 9
    assert cases["peak_per_second"]["mean"] == pytest.approx(36 / 3600)
    assert cases["share"]["mean"] == pytest.approx(36 / 37, abs=1e-4)
    assert d["total"]["busiest_hour_per_second"]["mean"] == pytest.approx(36 / 3600)
    assert d["query_channel_share_by_region"] == {"r": {"central": 1.0}}


def test_demand_command_json_matches_the_run(cli, tmp_path):
    out = tmp_path / "demand"
    r = cli(
        "demand", str(BASELINE), "--set", "horizon_days=60", "--set", "warmup_days=20",
        "--replications", "2", "--json", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["replications"] == 2 and d["window_days"] == 40
    shares = [v["share"]["mean"] for v in d["requests"].values()]
    assert sum(shares) == pytest.approx(1, abs=1e-3)
    central = d["requests"]["POST /v1/queries central"]
    lo, hi = central["per_second"]["ci95"]
    assert lo <= central["per_second"]["mean"] <= hi and central["per_second"]["mean"] > 0
    # courts work office hours: the busiest hour of queries is inside them
    assert 8 <= central["peak_hour"] <= 17
    assert json.loads((out / "demand.json").read_text()) == d
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "demand" and manifest["seed"] == 2023


def test_demand_command_table_and_bad_input(cli, tmp_path):
    r = cli(
        "demand", str(BASELINE), "--set", "horizon_days=30", "--set", "warmup_days=0",
        "--replications", "1", "--no-progress",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "POST /v1/queries central" in r.stdout and "peak /s" in r.stdout
    r = cli("demand", str(tmp_path / "missing.toml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "missing.toml" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("demand", str(BASELINE), "--replications", "0")
    assert r.returncode == 2 and "--replications" in r.stderr
