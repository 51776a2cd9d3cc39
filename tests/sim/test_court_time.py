"""Court time: the holiday calendar, filings in office hours, closing as work, and the
rules that follow the law (waiting freezes, the provident-fund cap per debtor, payment from
the 终本 pool, fixed-price sales, links that reach only part of an agency's records)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

import sim
from sim.model.calendar import CalendarYears, WorkingTime
from sim.model.debtors import Asset
from sim.model.filing import MonthlyRate, OfficeFilings
from sim.model.network import AgencyDesk
from sim.model.sale import SaleStage
from sim.model.settlement import FundLedger, Settlement
from sim.results.court_time import court_time
from sim.results.invariants import check_results
from sim.scenario import load_scenario
from sim.scenario.holidays import load_holidays
from sim.scenario.schema import AssetType, WorkingCalendar
from sim.scenario.stages import Sale
from sim.study.demand import run_demand
from tests.conftest import BASELINE, SCENARIOS
from tests.sim.test_case_flow import Run, run_log
from tests.sim.tiny import tiny

CN = load_holidays("cn")
OFFICE = WorkingCalendar()  # weekdays 08:30-17:30
START = dt.date(2023, 1, 1)


def day(date: dt.date) -> int:
    return (date - START).days


def test_the_calendar_keeps_holidays_and_make_up_days():
    w = WorkingTime(OFFICE, START, CN)
    assert not w.day_open(day(dt.date(2023, 1, 2)))  # New Year, a Monday
    assert not w.day_open(day(dt.date(2023, 1, 23)))  # Spring Festival week
    assert w.day_open(day(dt.date(2023, 1, 28)))  # a Saturday worked (调休)
    assert w.day_open(day(dt.date(2023, 1, 30)))
    # a day's work started on the eve of the Spring Festival ends on the make-up Saturday
    eve = day(dt.date(2023, 1, 20)) + 17.5 / 24
    assert w.advance(eve - 0.1, 1.0) == pytest.approx(day(dt.date(2023, 1, 28)) + 17.5 / 24 - 0.1)
    assert w.next_open(eve) == pytest.approx(day(dt.date(2023, 1, 28)) + 8.5 / 24)
    # 2023: 260 weekdays, 18 of them holidays, and 7 weekend days worked instead
    assert sum(w.day_open(k) for k in range(365)) == 260 - 18 + 7
    plain = WorkingTime(OFFICE, START)  # without holidays
    assert sum(plain.day_open(k) for k in range(365)) == 260
    # a calendar open all week ignores holidays unless it says otherwise
    assert WorkingTime(WorkingCalendar(days="all"), START, CN).day_open(1)
    assert not WorkingTime(WorkingCalendar(days="all", holidays=True), START, CN).day_open(1)


def test_a_bad_holiday_calendar_is_refused_with_its_field(tmp_path, cli):
    path = tmp_path / "bad.toml"
    path.write_text("[2023]\nholidays = [[2023-01-05, 2023-01-01]]\n", encoding="utf-8")
    for value, words in (
        ("mars", "unknown holiday calendar 'mars'"),
        (str(path), "is not a range"),
        (str(tmp_path / "missing.toml"), "cannot be read"),
    ):
        res = cli("validate", str(BASELINE), "--set", f'holidays="{value}"')
        assert res.returncode == 2, res.stderr
        assert "holidays" in res.stderr and words in res.stderr
        assert "Traceback" not in res.stderr


def test_filings_fall_in_office_hours_and_keep_their_monthly_counts():
    w = WorkingTime(OFFICE, START, CN)
    rate = MonthlyRate(50.0, [1.0] * 12, START, 365)
    hours = [0.0] * 8 + [1.0, 3, 3, 2, 0.5, 0.5, 2, 2, 1.5, 0.5] + [0.0] * 6
    office = OfficeFilings(rate, w, hours)
    rng = np.random.default_rng(3)
    t, drawn, placed = 0.0, [], []
    while True:
        t = rate.next_arrival(t, rng.exponential())
        if t == math.inf:
            break
        drawn.append(t)
        placed.append(office.place(t))
    assert placed == sorted(placed)  # a time change: the order is kept
    assert all(w.is_open(p) for p in placed)
    months = [START.replace(month=m) for m in range(1, 13)]
    for a, b in zip(months, [*months[1:], dt.date(2024, 1, 1)], strict=True):
        lo, hi = day(a), day(b)
        assert sum(lo <= x < hi for x in drawn) == sum(lo <= x < hi for x in placed)
    # the morning is busier than the afternoon, and the lunch hour quietest
    by_hour = np.bincount([int((p % 1) * 24) for p in placed], minlength=24)
    assert by_hour[9] > by_hour[15] > by_hour[12] > 0
    assert by_hour[9] / by_hour[12] == pytest.approx(6, rel=0.15)


@pytest.mark.slow
def test_a_small_run_keeps_court_time_and_closings_spread(tmp_path):
    # the baseline at a fifth of its volume, its whole year after the warm-up
    loaded = load_scenario(BASELINE).scaled(0.2)
    out = tmp_path / "run"
    sim.simulate(loaded, replications=2, seed=4, workers=1, out=out, records=True)
    seen = court_time(out)
    for event in ("filed", "freeze", "deduct", "disbursed", "closed"):
        assert seen["in_office_hours"][event] >= 0.85, (event, seen)
    assert seen["closings_busiest_day_share"] < 0.05, seen
    assert check_results(out) == []


def test_the_national_scenario_keeps_court_time_and_a_real_peak(tmp_path):
    # issue 11's "done when", on a small slice of the national scenario: closings spread
    # over days with a body (p50 and p90 apart), court events in office hours, and a
    # working day's peak hour at least twice its 24-hour mean
    loaded = load_scenario(
        SCENARIOS / "national-2023.toml", ["warmup_days=100", "horizon_days=250"]
    ).scaled(0.0005)
    out = tmp_path / "run"
    result = sim.simulate(loaded, replications=2, seed=4, workers=1, out=out, records=True)
    p50 = result.summary["time_to_close_days_p50"].mean
    p90 = result.summary["time_to_close_days_p90"].mean
    assert p90 - p50 >= 1, (p50, p90)  # a day apart: not a spike at filing + 90 days
    seen = court_time(out)
    for event in ("filed", "freeze", "deduct", "disbursed", "closed"):
        assert seen["in_office_hours"][event] >= 0.85, (event, seen)
    assert seen["closings_busiest_day_share"] < 0.05, seen
    demand = run_demand(loaded, seed=4, replications=2, show_progress=False)
    assert demand["total"]["peak_to_mean"]["mean"] >= 2, demand["total"]["peak_to_mean"]


def test_closing_a_case_that_owes_is_officer_work_and_approval(tmp_path):
    scenario = tiny(
        tmp_path,
        "debtors.nothing_share=1",
        "terminated_pool.closing_officer_days=0.5",
        "terminated_pool.approval_working_days=3",
    )
    world, log = run_log(scenario)
    # 3 months after filing the officer's closing work (0.5), then 3 days of approval
    assert log[-1][:2] == (pytest.approx(90 + 0.5 + 3), "closed")
    assert world.observer.officer_work_sum == pytest.approx(0.5 + 0.5)


def test_the_provident_fund_cap_is_per_debtor_and_year_across_cases():
    years = CalendarYears(START)
    ledger: FundLedger = {}
    one = Settlement(100_000, years, 50_000, ledger, debtor=7)
    two = Settlement(100_000, years, 50_000, ledger, debtor=7)
    other = Settlement(100_000, years, 50_000, ledger, debtor=8)
    # in fen: 40,000 yuan, then the 10,000 left of the debtor's 2023 cap in the other case
    assert one.take(10, 4_000_000, provident_fund=True) == 4_000_000
    assert two.take(20, 4_000_000, provident_fund=True) == 1_000_000
    assert two.take(30, 4_000_000, provident_fund=True) == 0
    assert other.take(30, 4_000_000, provident_fund=True) == 4_000_000  # a debtor of its own
    assert two.take(400, 4_000_000, provident_fund=True) == 4_000_000  # 2024: a new year


def test_a_debtor_in_the_pool_may_pay_and_the_case_closes_performed(tmp_path):
    scenario = tiny(
        tmp_path,
        "debtors.nothing_share=1",
        "terminated_pool.voluntary_payment_probability=1",
    )
    world, log = run_log(scenario)
    events = [(t, e, a) for t, e, _, _, a, _ in log if e in ("restored", "voluntary", "closed")]
    # 终本 at 90.2; at the first re-query (half a year on) the debtor pays the 10,000 owed
    push = math.ceil(90.2 + 182.5)
    assert events[0] == (90.2, "closed", 0.0)
    assert events[1] == (push, "restored", 10000.0)
    assert events[2][1:] == ("voluntary", 10000.0)
    assert world.case_rows[-1].outcome == "fully_performed"


def test_a_fixed_price_sale_sells_at_the_fixed_price():
    spec = Sale.model_validate(
        {
            "real_estate": {
                "success_probability": [0, 0, 1],
                "hammer_premium": {"kind": "uniform", "low": 0.1, "high": 0.3},
            }
        }
    )
    stage = SaleStage(spec)
    route = spec.real_estate
    for seed in range(20):
        out = stage.sell(AssetType.real_estate, 100_000, 0.0, seed, 0)
        assert out.rounds == 3
        price = 100_000 * route.start_price_ratio * (1 - route.second_price_cut)
        assert out.proceeds == pytest.approx(price)


def test_a_link_reaches_its_coverage_share_of_records(tmp_path):
    scenario = tiny(tmp_path, "channels.central.coverage_share=0.3")
    via = Run(scenario).world.network.links["r"][0]
    deposit = Asset(0, AssetType.bank_deposit, 1)
    reached = np.mean([via.reaches(seed, deposit) for seed in range(4000)])
    assert reached == pytest.approx(0.3, abs=0.03)


def test_answers_by_hand_make_the_24_hour_rule_bind(tmp_path):
    scenario = tiny(
        tmp_path,
        "agencies.bank.manual_share=1",
        "agencies.bank.manual_days=1.5",
        "agencies.bank.office={days='weekdays'}",
    )
    spec = scenario.agencies["bank"]
    desk = AgencyDesk("bank", spec, scenario, np.random.default_rng(0), np.random.default_rng(1))
    # sent on Tuesday 3 January 2023 at 10:00: by hand, 1.5 working days, Wednesday 13:00
    tuesday = day(dt.date(2023, 1, 3)) + 10 / 24
    assert desk.done_at(tuesday) == pytest.approx(tuesday + 1 + 4.5 / 24)
    assert desk.done_at(tuesday) - tuesday > 1  # past the 24 hours
