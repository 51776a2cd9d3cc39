"""chakong load against the real reference API, which it starts and stops itself."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BASELINE
from tests.load.load_stub import LENIENT, QUICK, no_process_mentions

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
            "--json", "--no-progress", *QUICK, *LENIENT, *CAP_WORLD)  # fmt: skip
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
