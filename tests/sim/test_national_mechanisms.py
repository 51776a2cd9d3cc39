"""Every mechanism of the national scenario in its event log, and the invariant checks that
read that log (a file of its own, so that the suite's processes carry it beside the what-ifs).
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest

import sim
from sim.results.invariants import check_results
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS

NATIONAL = SCENARIOS / "national-2023.toml"


@pytest.fixture(scope="module")
def mechanisms_run(tmp_path_factory):
    """A national run with every mechanism on, long enough for renewals and restorations."""
    loaded = load_scenario(
        NATIONAL,
        [
            "warmup_days=60",
            "horizon_days=700",
            "freeze.renewal_miss_probability=0.3",
            "terminated_pool.requery_interval_days=60",
            # large claims, as before the fit narrowed their spread: cases that deduct a
            # provident fund for years, so freezes are renewed and lapse
            "region_defaults.claim_yuan.sigma=1.3",
            # and provident funds capped and frozen a year at a time everywhere: a few
            # capped regions alone needed two or three renewals in the run, so whether one
            # lapsed was luck (the refit's draws had none)
            "region_overrides.policy.provident_fund_annual_cap_yuan=20000",
            "region_overrides.policy.provident_fund_freeze_years=1",
        ],
    ).scaled(0.001)
    out = tmp_path_factory.mktemp("mech") / "run"
    sim.simulate(loaded, replications=2, seed=11, workers=2, out=out, records=True)
    return out


@pytest.mark.slow
def test_the_event_log_shows_every_mechanism(mechanisms_run):
    with (mechanisms_run / "events.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    kinds = {r["event"] for r in rows}
    assert {
        "freeze",
        "freeze_waiting",
        "freeze_renewed",
        "freeze_lapsed",
        "sale",
        "restored",
        "objection",
        "voluntary",
        "deduct",
        "disbursed",
        "unfreeze",
    } <= kinds
    for r in rows:
        if r["event"] in ("freeze", "freeze_renewed"):
            assert float(r["expires_days"]) > float(r["time_days"])
        if r["event"] == "deduct":
            assert r["amount_yuan"] and r["asset_type"]
    assert check_results(mechanisms_run) == []


@pytest.mark.slow
def test_invariant_checks_have_teeth(mechanisms_run, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(mechanisms_run, bad)
    with (bad / "events.csv").open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows, header = list(reader), reader.fieldnames
    lapse = next(r for r in rows if r["event"] == "freeze_lapsed")
    late = dict(
        lapse, event="deduct", time_days=str(float(lapse["time_days"]) + 5), amount_yuan="1.00"
    )
    fund = next(r for r in rows if r["event"] == "deduct" and r["asset_type"] == "provident_fund")
    # a cap the run did not have: the fund's deductions now exceed it
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["scenario"]["resolved"]["regions"][fund["region"]]["policy"][
        "provident_fund_annual_cap_yuan"
    ] = float(fund["amount_yuan"]) / 2
    (bad / "manifest.json").write_text(json.dumps(manifest))
    over = dict(lapse, event="disbursed", amount_yuan="1e12")
    rows += [late, over]
    with (bad / "events.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, header)
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: (int(r["replication"]), float(r["time_days"]))))
    problems = check_results(bad, limit=100_000)
    assert any("against a freeze held" in p for p in problems), problems
    assert any("over the cap" in p for p in problems), problems
    assert any("> claim" in p for p in problems), problems
