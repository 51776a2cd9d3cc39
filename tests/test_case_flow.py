"""The case process, exactly: constant distributions give an exact event log."""

from __future__ import annotations

import pytest

from sim.model.world import World
from sim.streams import Streams
from tests.tiny import tiny


def run_log(scenario):
    world = World(scenario, Streams(1, 0), keep_records=True)
    world.run()
    rows = [(round(r[1], 6), r[4], r[5], r[6], r[7], r[8]) for r in world.log.sorted_rows()]
    return world, [r for r in rows if r[0] < scenario.horizon_days]


def test_one_deposit_online(tmp_path):
    world, log = run_log(tiny(tmp_path))
    assert log == [
        (0.0, "filed", "", "", 10000.0, ""),
        (0.0, "officer_start", "", "", None, ""),
        (0.5, "query_sent", "", "central", None, "bank"),
        (0.5, "query_sent", "", "central", None, "fund_centre"),
        (0.65, "query_answered", "", "central", 4000.0, "bank"),
        (0.75, "query_answered", "", "central", 0.0, "fund_centre"),
        (1.75, "freeze", "bank_deposit", "central", 4000.0, "bank"),
        (2.75, "deduct", "bank_deposit", "central", 4000.0, ""),
        (12.75, "disbursed", "bank_deposit", "central", 4000.0, ""),
        (12.75, "closed", "", "", 4000.0, ""),
    ]
    (row,) = world.case_rows
    assert row[7] == "partly_performed" and row[9] == 4000.0


def test_provident_fund_arrives_in_yearly_steps_under_the_cap(tmp_path):
    scenario = tiny(
        tmp_path,
        "regions.r.claim_yuan=120000",
        "debtors.assets.bank_deposit.hold_probability=0",
        "debtors.assets.provident_fund={hold_probability=1, value_yuan=200000}",
    )
    _, log = run_log(scenario)
    money = [(t, e, a) for t, e, _, _, a, _ in log if e in ("deduct", "disbursed", "closed")]
    # 2023: 50,000 when the freeze holds; 2024-01-01 (day 365): 50,000; 2025 (day 731): 20,000
    assert money == [
        (2.75, "deduct", 50000.0),
        (12.75, "disbursed", 50000.0),
        (365.0, "deduct", 50000.0),
        (375.0, "disbursed", 50000.0),
        (731.0, "deduct", 20000.0),
        (741.0, "disbursed", 20000.0),
        (741.0, "closed", 120000.0),
    ]


def test_lifting_the_cap_pays_at_once(tmp_path):
    scenario = tiny(
        tmp_path,
        "regions.r.claim_yuan=120000",
        "regions.r.policy.provident_fund_annual_cap_yuan=inf",
        "debtors.assets.bank_deposit.hold_probability=0",
        "debtors.assets.provident_fund={hold_probability=1, value_yuan=200000}",
    )
    _, log = run_log(scenario)
    assert [(t, e, a) for t, e, _, _, a, _ in log if e == "deduct"] == [(2.75, "deduct", 120000.0)]


def test_offline_channel_costs_officer_stints(tmp_path):
    scenario = tiny(
        tmp_path,
        "channels.central.online_freeze=false",
        "channels.central.online_deduct=false",
    )
    world, log = run_log(scenario)
    events = [(t, e) for t, e, *_ in log if e in ("freeze", "deduct", "disbursed", "closed")]
    # answers at 0.75; the officer freezes in person (1 day), then deducts in person (1 day)
    assert events == [(1.75, "freeze"), (2.75, "deduct"), (12.75, "disbursed"), (12.75, "closed")]
    assert world.observer.officer_work_sum == pytest.approx(0.5 + 1 + 1)


def test_nothing_found_closes_terminated_for_now(tmp_path):
    world, log = run_log(tiny(tmp_path, "debtors.nothing_share=1"))
    assert log[-1] == (0.75, "closed", "", "", 0.0, "")
    assert world.case_rows[0][7] == "terminated_for_now"


def test_unreachable_assets_are_not_found(tmp_path):
    scenario = tiny(
        tmp_path,
        "debtors.assets.bank_deposit.hold_probability=0",
        "debtors.assets.e_asset={hold_probability=1, value_yuan=5000}",
    )
    world, _log = run_log(scenario)
    assert world.case_rows[0][11:13] == (1, 0)  # one asset, none found
    assert world.case_rows[0][7] == "terminated_for_now"


def test_officers_serve_first_come_first_served(tmp_path):
    _world, log = run_log(tiny(tmp_path, "regions.r.initial_pending_cases=3"))
    starts = [t for t, e, *_ in log if e == "officer_start"]
    assert starts == [0.0, 0.5, 1.0]


def test_wrong_records_are_redone_until_a_control_holds(tmp_path):
    scenario = tiny(
        tmp_path,
        "channels.central.error_probability=0.6",
        "regions.r.initial_pending_cases=40",
        "debtors.assets.bank_deposit.count=2",
    )
    world, _log = run_log(scenario)
    by_case: dict[int, list[str]] = {}
    for r in world.log.sorted_rows():
        by_case.setdefault(r[2], []).append(r[4])
    failures = sum(ev.count("freeze_failed") for ev in by_case.values())
    assert failures > 10  # the fixed seed draws many wrong records
    for events in by_case.values():
        assert events.count("freeze") == 2  # both deposits are held in the end
        assert events.count("rework") >= (1 if "freeze_failed" in events else 0)
        # every rework is followed by a fresh query before the next control
        for i, e in enumerate(events):
            if e == "rework":
                assert events[i + 1] == "query_sent"
        assert events[-1] == "closed"
