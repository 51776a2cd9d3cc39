"""The case process, exactly: constant distributions give an exact event log."""

from __future__ import annotations

import pytest

from sim.engine.replication import run_once
from sim.results.eventlog import EventLog
from tests.sim.tiny import tiny


class Run:
    """A replication's world and its event log (the observer with rows)."""

    def __init__(self, scenario):
        self.world, self.observer = run_once(scenario, 1, 0, keep_records=True)
        assert isinstance(self.observer, EventLog)
        self.log = self.observer
        self.case_rows = self.observer.all_case_rows()
        self.pool = self.world.pool


def run_log(scenario):
    """The run and its events as (time, event, asset type, channel, amount, agency)."""
    run = Run(scenario)
    return run, [
        (round(r.time_days, 6), r.event, r.asset_type, r.channel, r.amount_yuan, r.agency)
        for r in run.log.sorted_rows()
        if round(r.time_days, 6) < scenario.horizon_days
    ]


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
        # 6,000 still owed: no sooner than 3 months after filing, an officer's closing
        # work (0.2 working days, the default) closes it
        (90.2, "unfreeze", "bank_deposit", "central", None, "bank"),
        (90.2, "closed", "", "", 4000.0, ""),
    ]
    (row,) = world.case_rows
    assert row.outcome == "partly_performed" and row.recovered_yuan == 4000.0


def test_online_controls_carry_when_the_court_ordered_them(tmp_path):
    world, _ = run_log(tiny(tmp_path))
    ordered = {r.event: r.ordered_days for r in world.log.sorted_rows()}
    # the freeze is ordered when the last answer is in (0.75) and holds a day later; the
    # deduction is ordered when the freeze holds (1.75); a release at closing has no order
    assert ordered["freeze"] == 0.75 and ordered["deduct"] == 1.75
    assert ordered["unfreeze"] is None and ordered["disbursed"] is None
    fund = tiny(
        tmp_path,
        "regions.r.claim_yuan=120000",
        "debtors.assets.bank_deposit.hold_probability=0",
        "debtors.assets.provident_fund={hold_probability=1, value_yuan=200000}",
    )
    world, _ = run_log(fund)
    steps = [r.ordered_days for r in world.log.sorted_rows() if r.event == "deduct"]
    assert steps == [1.75, None, None]  # the yearly steps need no new order


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
    assert events == [(1.75, "freeze"), (2.75, "deduct"), (12.75, "disbursed"), (90.2, "closed")]
    # investigation, in-person freeze and deduction, and the closing work (0.2)
    assert world.observer.officer_work_sum == pytest.approx(0.5 + 1 + 1 + 0.2)


def test_nothing_found_closes_terminated_for_now_after_three_months(tmp_path):
    world, log = run_log(tiny(tmp_path, "debtors.nothing_share=1"))
    # more than 3 months after filing, then the officer's closing work (0.2 days)
    assert log[-1] == (90.2, "closed", "", "", 0.0, "")
    assert world.case_rows[0].outcome == "terminated_for_now"
    assert world.observer.pushes == 10  # it joined the 终本 pool: 10 re-queries in 5 years


def test_unreachable_assets_are_not_found(tmp_path):
    scenario = tiny(
        tmp_path,
        "debtors.assets.bank_deposit.hold_probability=0",
        "debtors.assets.e_asset={hold_probability=1, value_yuan=5000}",
    )
    world, _log = run_log(scenario)
    row = world.case_rows[0]
    assert (row.assets, row.assets_found) == (1, 0)  # one asset, none found
    assert row.outcome == "terminated_for_now"


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
        by_case.setdefault(r.case_id, []).append(r.event)
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


FUND = [
    "regions.r.claim_yuan=120000",
    "debtors.assets.bank_deposit.hold_probability=0",
    "debtors.assets.provident_fund={hold_probability=1, value_yuan=200000}",
]


def _events(log, *names):
    return [(t, e, a, x) for t, e, _, _, a, x in log if e in names]


def test_provident_fund_freeze_is_renewed_online_before_it_expires(tmp_path):
    scenario = tiny(
        tmp_path,
        *FUND,
        "regions.r.policy.provident_fund_freeze_years=1",
        "freeze.renew_lead_days=30",
    )
    world, log = run_log(scenario)
    rows = [
        (r.time_days, r.event, r.expires_days)
        for r in world.log.sorted_rows()
        if r.time_days < 2000
    ]
    renewals = [(round(t, 6), round(x, 6)) for t, e, x in rows if e == "freeze_renewed"]
    # frozen at 1.75 until 366.75; renewed online 30 days before, taking 1 day
    assert renewals == [(337.75, 731.75), (702.75, 1096.75)]
    assert [t for t, e, *_ in log if e == "deduct"] == [2.75, 365.0, 731.0]
    assert world.observer.renewals_needed == 2 and world.observer.renewals_failed == 0


def test_a_missed_renewal_loses_the_rest_of_the_fund(tmp_path):
    scenario = tiny(
        tmp_path,
        *FUND,
        "regions.r.policy.provident_fund_freeze_years=1",
        "freeze.renewal_miss_probability=1",
    )
    world, log = run_log(scenario)
    assert [e for _, e, *_ in log].count("freeze_lapsed") == 1
    lapse = next(t for t, e, *_ in log if e == "freeze_lapsed")
    assert lapse == pytest.approx(366.75)
    # the 2024-01-01 step (day 365) still came before the lapse; 2025's never comes
    assert [t for t, e, *_ in log if e == "deduct"] == [2.75, 365.0]
    row = world.case_rows[0]
    assert row.outcome == "partly_performed" and row.recovered_yuan == 100000


def test_in_person_renewal_costs_an_officer_stint(tmp_path):
    scenario = tiny(
        tmp_path,
        *FUND,
        "regions.r.policy.provident_fund_freeze_years=1",
        "channels.central.online_freeze=false",
    )
    world, _ = run_log(scenario)
    # investigation 0.5 + in-person freeze 1 + two in-person renewals of 1 day each
    assert world.observer.officer_work_sum == pytest.approx(0.5 + 1 + 1 + 1)


def test_waiting_freeze_period_runs_from_when_it_takes_effect(tmp_path):
    scenario = tiny(
        tmp_path,
        "freeze.waiting.probability.bank_deposit=1",
        "freeze.waiting.release_days=500",
        "freeze.waiting.remaining_share=1",
    )
    world, log = run_log(scenario)
    names = [e for _, e, *_ in log]
    # registered at 1.75, biting at 501.75: a one-year period from then needs no renewal
    # while it waits (counted from registration it would have lapsed at 366.75)
    assert "freeze_waiting" in names and "freeze_renewed" not in names
    assert [t for t, e, *_ in log if e == "deduct"] == [pytest.approx(1.75 + 500 + 1)]
    expiry = [r.expires_days for r in world.log.sorted_rows() if r.event == "freeze_waiting"]
    assert expiry == [pytest.approx(501.75 + 365)]


def test_credit_punishment_brings_a_voluntary_payment(tmp_path):
    scenario = tiny(
        tmp_path,
        "debtors.nothing_share=1",
        "credit_punishment.pays_probability=1",
        "credit_punishment.days_to_pay=40",
    )
    world, log = run_log(scenario)
    assert _events(log, "voluntary", "closed") == [
        (40.0, "voluntary", 10000.0, ""),
        (50.0, "closed", 10000.0, ""),
    ]
    assert world.case_rows[0].outcome == "fully_performed"
    late = tiny(
        tmp_path,
        "debtors.nothing_share=1",
        "credit_punishment.pays_probability=1",
        "credit_punishment.days_to_pay=200",
    )
    world, log = run_log(late)  # too late: the case is 终本 at day 90 first
    assert "voluntary" not in [e for _, e, *_ in log]
    assert world.case_rows[0].outcome == "terminated_for_now"


def test_credit_punishment_brings_a_part_payment(tmp_path):
    scenario = tiny(
        tmp_path,
        "debtors.nothing_share=1",
        "credit_punishment.pays_part_probability=1",
        "credit_punishment.part_share=0.3",
        "credit_punishment.days_to_pay=40",
    )
    world, log = run_log(scenario)
    # 30% of the 10,000 owed; the rest is still owed: partly performed, no sooner than
    # 3 months after filing, and the debtor joins the 终本 pool
    assert _events(log, "voluntary") == [(40.0, "voluntary", 3000.0, "")]
    (case,) = world.case_rows
    assert case.outcome == "partly_performed" and case.recovered_yuan == 3000.0
    assert case.closed_days >= 90 and world.observer.pushes == 10


def test_terminated_pool_requeries_and_restores_as_a_new_matter(tmp_path):
    scenario = tiny(
        tmp_path,
        "debtors.nothing_share=1",
        "terminated_pool.emergence_probability=1",
        "terminated_pool.restore_min_share=0",
        "horizon_days=400",
    )
    # the 终本 debtor holds a deposit at the first re-query (day 90 + 182.5), which the
    # network reaches: a lead; restored as a new matter, it finds the deposit and recovers
    world, log = run_log(scenario)
    restored = [(t, e) for t, e, *_ in log if e == "restored"]
    assert restored == [(273.0, "restored")]  # checked on the day the push falls due
    obs = world.observer
    assert (obs.pushes, obs.leads, obs.restored) == (1, 1, 1)
    matters = {r.matter for r in world.case_rows}
    assert matters == {"new", "restored"}
    assert world.case_rows[-1].outcome == "partly_performed"  # 4,000 of the 10,000 owed


def test_pool_gives_up_after_five_years(tmp_path):
    scenario = tiny(tmp_path, "debtors.nothing_share=1", "horizon_days=2200")
    world, _ = run_log(scenario)
    assert world.observer.pushes == 10 and world.pool.size == 0


def test_objection_is_a_matter_of_its_own(tmp_path):
    scenario = tiny(tmp_path, "matters.objection_probability=1", "matters.objection_days=20")
    world, log = run_log(scenario)
    assert [(t, e) for t, e, *_ in log if e == "objection"] == [(0.5, "objection")]
    m = world.observer.metrics()
    assert m["case_to_matter_ratio"] == 2.0
    assert sorted(r.matter for r in world.case_rows) == ["new", "objection"]
