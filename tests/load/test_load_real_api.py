"""chakong load against the real reference API, which it starts and stops itself."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BASELINE
from tests.load.load_stub import LENIENT, LOADED_MACHINE, QUICK, no_process_mentions

# A world where the provident-fund cap can bite at once: every debtor holds a large fund,
# claims exceed the cap, agencies answer within seconds (5 s of wall time per simulated day).
CAP_WORLD = [
    "--set", "api.time_scale=5", "--set", "api.debtors=200",
    "--set", "debtors.nothing_share=0",
    "--set", "debtors.assets.provident_fund.hold_probability=1",
    "--set", "debtors.assets.provident_fund.value_yuan=200000",
    "--set", "region_defaults.claim_yuan=300000",
    "--set", "load.over_cap_share=1",
]  # fmt: skip


@pytest.mark.slow
def test_load_starts_the_api_checks_the_cap_and_stops_it(chakong, tmp_path):
    out = tmp_path / "out"
    r = chakong("load", str(BASELINE), "--rate", "40", "--duration", "8s", "--out", str(out),
            "--json", "--no-progress", *QUICK, *LENIENT, *LOADED_MACHINE, *CAP_WORLD)  # fmt: skip
    assert r.returncode == 0, r.stderr + r.stdout
    s = json.loads(r.stdout)
    assert s["errors"]["count"] == 0 and s["violations"]["count"] == 0
    checks = s["violations"]["checks"]
    assert checks.get("over_cap_sent", 0) > 0, s["mix"]
    assert checks["over_cap_refused"] == checks["over_cap_sent"]
    assert s["refusals"]["deduct cap_exceeded"] >= checks["over_cap_sent"]
    post = s["violations"]["post_run"]
    assert post["reconcile"]["ok"] and post["audit"]["answer"]["entries"] > 0
    names = {p.name for p in out.iterdir()}
    assert {"api.log", "api.db"} <= names and "fixtures.json" not in names  # tokens stay out
    assert no_process_mentions(str(out))  # neither the API nor Locust outlives the run


def _run(chakong, tmp_path, *more: str) -> dict:
    out = tmp_path / "out"
    r = chakong("load", str(BASELINE), "--out", str(out), "--json", "--no-progress", *QUICK,
                *LENIENT, *LOADED_MACHINE, *more)  # fmt: skip
    assert r.returncode == 0, r.stderr + r.stdout
    assert no_process_mentions(str(out))  # neither the API nor Locust outlives the run
    return json.loads(r.stdout)


def _correct(s: dict) -> dict:
    """The checks every run must pass, faults or not; the controls' counts."""
    assert s["errors"]["count"] == 0 and s["violations"]["count"] == 0, s["violations"]
    post = s["violations"]["post_run"]
    assert post["reconcile"]["ok"] and post["audit"]["ok"]
    check = s["controls"]["case_check"]
    # every case with controls read: each acknowledged control listed once, none doubled
    assert check["checked"] and check["cases"] == check["cases_with_controls"] > 0
    assert check["controls"] > 0 and not check["violations"] and not check["unread"]
    # no second control on a holding while its first is with the agency
    assert not any(k.endswith("control_pending") for k in s["refusals"]), s["refusals"]
    return s["controls"]["counts"]


@pytest.mark.slow
def test_in_scenario_mode_the_flows_follow_controls_until_final(chakong, tmp_path):
    """The default: the API started here hands controls to its agencies (202); the flows
    poll them (poll_control, planned from the scenario's control latency) until final."""
    s = _run(chakong, tmp_path, "--rate", "30", "--duration", "6s")
    assert s["controls"]["mode"] == "scenario" and s["controls"]["polls"]["derived"]
    counts = _correct(s)
    assert counts["accepted"] > 10 and counts["done"] > 5 and counts["polls"] > 10
    assert s["by_name"]["poll_control"]["count"] > 0
    assert s["mix"]["poll_control"]["planned_share"] > 0.2
    assert any("derived, not simulated" in n for n in s["notes"])


@pytest.mark.slow
def test_with_agency_faults_unknown_is_asked_again_never_failed_and_nothing_is_lost(
    chakong, tmp_path
):
    """Agencies answer late, never or twice (each 0.2); the API's deadline is a simulated day
    (2 s here): unknown controls are sent again with their keys and end done. Baseline's
    agencies never fail a control, so any failed one would be an unknown counted wrong."""
    s = _run(chakong, tmp_path, "--rate", "30", "--duration", "10s", "--faults", "0.2")
    assert s["controls"]["faults"]["lost_reply_probability"] == 0.2
    counts = _correct(s)
    assert counts["unknown_seen"] > 3 and counts["retried"] >= counts["unknown_seen"]
    assert counts["unknown_then_done"] > 0 and counts.get("failed", 0) == 0
    assert s["violations"]["checks"]["retry_sent"] > 0  # each must answer as the control did
