"""chakong demand: event rows mapped to logical requests, a working day's peak hour and
peak minute against the closed form of a known profile, kinds of day, intervals that never
go below zero, full volume, the command."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from sim.model.events import Event, EventKind
from sim.results.statistics import summarize, summarize_positive
from sim.scenario import load_scenario
from sim.study import day_kinds
from sim.study import requests as rq
from sim.study.day_kinds import DayKinds
from sim.study.demand import count_demand, summarize_demand
from tests.conftest import BASELINE
from tests.sim.tiny import TINY, tiny

CASES = rq.FILE_CASE


def row(t, case, event, asset="", channel="", agency="", region="r"):
    return Event(
        0, t, case, region, EventKind(event), asset, channel, agency=agency, debtor_id=case
    )


def test_rows_become_requests_by_kind_hour_and_asset(tmp_path):
    scenario = tiny(tmp_path, "warmup_days=10", "horizon_days=12")
    q = rq.query("central")
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
    freeze = rq.control("freeze")
    deduct = rq.control("deduct")
    assert d.total(freeze) == 2 and d.by_hour[freeze][12] == 2
    assert d.total(deduct) == 1 and d.by_hour[deduct][18] == 1
    assert d.controls_by_asset == {("freeze", "bank_deposit"): 2, ("deduct", "bank_deposit"): 1}
    assert d.in_person == {}
    assert d.queries_by_region == {("r", "central"): 1}
    assert d.busiest_hour_requests == 2  # the two freeze attempts in hour 12 of day 11


def test_an_online_control_counts_when_the_court_orders_it(tmp_path):
    scenario = tiny(tmp_path, "warmup_days=10", "horizon_days=12")
    freeze, deduct = rq.control("freeze"), rq.control("deduct")
    rows = [
        # ordered at 10:15 on day 10, carried out by the agency at 08:30 the next day
        row(11 + 8.5 / 24, 1, "freeze", "bank_deposit", "central", "bank")._replace(
            ordered_days=10 + 10.25 / 24
        ),
        # ordered before the window: not counted, though carried out inside it
        row(10.1, 2, "deduct", "bank_deposit", "central", "")._replace(ordered_days=9.9),
        # no order time (a provident fund's later yearly step): counted at its own time
        row(11.5, 3, "deduct", "bank_deposit", "central", ""),
    ]
    d = count_demand(rows, scenario)
    assert d.total(freeze) == 1 and d.by_hour[freeze][10] == 1
    assert d.total(deduct) == 1 and d.by_hour[deduct][12] == 1
    # an order at the court's opening, 08:30 to the float, counts in the minute 08:30
    opening = [
        row(11.2, 4, "freeze", "bank_deposit", "central", "bank")._replace(
            ordered_days=11 + 8.5 / 24
        )
    ]
    minutes = count_demand(opening, scenario).working_minutes
    assert minutes[8 * 60 + 30] == 1 and sum(minutes) == 1


def test_in_person_controls_are_counted_apart(tmp_path):
    scenario = tiny(
        tmp_path, "warmup_days=0", "horizon_days=1", "channels.central.online_deduct=false"
    )
    rows = [row(0.5, 1, "deduct", "bank_deposit", "central", "")]
    d = count_demand(rows, scenario)
    assert d.total(rq.control("deduct")) == 0
    assert d.in_person == {("deduct", "bank_deposit"): 1}


def test_rates_per_second_peak_hour_and_shares(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    # day 2 of the clock is Tuesday 3 January 2023: a working day
    loaded = load_scenario(path, ["warmup_days=2", "horizon_days=3"])
    rows = [row(2 + 9 / 24 + i / 1e4, i, "filed") for i in range(36)]  # 36 filings in 09:00
    rows += [row(2.5, 1, "query_sent", channel="central", agency="bank")]
    d = summarize_demand(loaded, 1, [count_demand(rows, loaded.scenario)])
    cases = d["requests"][CASES]
    assert cases["per_day"]["mean"] == 36
    assert cases["per_second"]["mean"] == pytest.approx(36 / 86_400)
    assert cases["peak_hour"] == 9
    assert cases["peak_per_second"]["mean"] == pytest.approx(36 / 3600)
    assert cases["share"]["mean"] == pytest.approx(36 / 37, abs=1e-4)
    assert d["total"]["busiest_hour_per_second"]["mean"] == pytest.approx(36 / 3600)
    assert d["query_channel_share_by_region"] == {"r": {"central": 1.0}}
    assert d["window"] == ["2023-01-03", "2023-01-03"]


# ---------------------------------------------------------------- a known profile

# requests per hour of a working day (08:00-17:59), and per weekend day, spread evenly
HOURLY = {8: 100, 9: 200, 10: 300, 11: 400, 12: 150, 13: 250, 14: 300, 15: 350, 16: 200, 17: 100}
PEAK_HOUR = 11
TOP_MINUTE = 0.2  # the first minute of each hour takes 20% of its requests, the rest share
WEEKEND_PER_DAY = 300


def known_profile_rows(days: DayKinds, n_days: int, rng: np.random.Generator) -> list[Event]:
    """Filings as a Poisson process with the profile above (times in days)."""
    out = []
    for day in range(n_days):
        if days.kind(day) == DayKinds.WORKING:
            for hour, per_hour in HOURLY.items():
                n = rng.poisson(per_hour)
                first = rng.random(n) < TOP_MINUTE
                minute = np.where(first, 0, rng.integers(1, 60, n))
                seconds = minute * 60 + rng.random(n) * 60
                out += [row(day + (hour * 3600 + s) / 86_400, 1, "filed") for s in seconds]
        else:
            times = np.sort(rng.random(rng.poisson(WEEKEND_PER_DAY)))
            out += [row(day + t, 1, "filed") for t in times]
    return out


CLOSED_FORM_CHECKS = 8  # the closed-form checks of the test below, judged together


def holds(summary, value, checks=CLOSED_FORM_CHECKS):
    """Whether ``value`` lies in the summary's interval, widened from 95% for one check to
    95% for ``checks`` together (Bonferroni: each at 1 - 0.05 / checks). The interval is on
    the log scale, ``mean * f**(+-1)`` with ``log f = t * sem / mean``, so the wider one is
    ``mean * f**(+-t_wide / t_95)``."""
    mean, (lo, hi), n = summary["mean"], summary["ci95"], summary["n"]
    assert 0 <= lo <= mean <= hi
    widen = stats.t.ppf(1 - 0.025 / checks, n - 1) / stats.t.ppf(0.975, n - 1)
    f = (hi / mean) ** widen
    return mean / f <= value <= mean * f


def test_peak_hour_and_peak_minute_meet_the_closed_form_of_a_known_profile(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    loaded = load_scenario(path, ["warmup_days=0", "horizon_days=21"])  # 1-21 January 2023
    days = DayKinds.of(loaded.scenario)
    streams = np.random.SeedSequence(2023).spawn(8)  # one stream per replication
    reps = [
        count_demand(known_profile_rows(days, 21, np.random.default_rng(s)), loaded.scenario)
        for s in streams
    ]
    d = summarize_demand(loaded, 2023, reps)
    t = d["total"]
    day_total = sum(HOURLY.values())
    assert t["peak_hour"] == PEAK_HOUR
    assert holds(t["peak_per_second"], HOURLY[PEAK_HOUR] / 3600)
    assert t["peak_minute"] == f"{PEAK_HOUR:02d}:00"
    assert holds(t["peak_minute_per_second"], TOP_MINUTE * HOURLY[PEAK_HOUR] / 60)
    assert holds(t["peak_minute_to_hour"], 60 * TOP_MINUTE)
    assert holds(t["working_day_per_second"], day_total / 86_400)
    assert holds(t["peak_to_mean"], 24 * HOURLY[PEAK_HOUR] / day_total)
    assert t["peak_to_mean"]["mean"] >= 2
    # outside office hours a working day is empty; the hourly profile is the closed form's
    profile = t["by_hour_per_second"]
    assert profile[3] == 0 and profile[20] == 0
    assert profile[15] == pytest.approx(HOURLY[15] / 3600, rel=0.05)
    # the within-hour profile: minute 0 takes TOP_MINUTE of every hour
    assert t["within_hour_share"][0] == pytest.approx(TOP_MINUTE, abs=0.01)
    # weekday against weekend and public holiday (China's calendar: 1-2 January, New Year;
    # 21 January, the first day of the Spring Festival)
    kinds = t["by_day_kind"]
    assert {k: v["days"] for k, v in kinds.items()} == {
        DayKinds.WORKING: 14, DayKinds.WEEKEND: 4, DayKinds.HOLIDAY: 3
    }  # fmt: skip
    assert holds(kinds[DayKinds.WORKING]["per_day"], day_total)
    assert holds(kinds[DayKinds.WEEKEND]["per_day"], WEEKEND_PER_DAY)
    assert holds(kinds[DayKinds.HOLIDAY]["per_day"], WEEKEND_PER_DAY)


def test_rates_are_at_full_volume_with_the_scale_stated(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    loaded = load_scenario(path, ["warmup_days=2", "horizon_days=3"])
    rows = [row(2 + 9 / 24 + i / 1e4, i, "filed") for i in range(36)]
    full = summarize_demand(loaded, 1, [count_demand(rows, loaded.scenario)])
    fifth = dataclasses.replace(loaded, scale=0.2, volume_factor=0.2)
    scaled = summarize_demand(fifth, 1, [count_demand(rows, loaded.scenario)])
    assert (scaled["scale"], scaled["volume_factor"]) == (0.2, 0.2)
    for key in ("per_second", "peak_per_second", "busiest_hour_per_second"):
        assert scaled["total"][key]["mean"] == pytest.approx(
            5 * full["total"][key]["mean"], rel=1e-5
        )
    assert scaled["requests"][CASES]["per_day"]["mean"] == pytest.approx(5 * 36)
    assert scaled["requests"][CASES]["share"] == full["requests"][CASES]["share"]


def test_public_holidays_and_make_up_working_days(tmp_path, monkeypatch):
    start = dt.date(2023, 1, 1)  # a Sunday
    days = DayKinds(start, holidays=[dt.date(2023, 1, 2)], make_up_days=[dt.date(2023, 1, 7)])
    kinds = [days.kind(d) for d in range(8)]
    assert kinds == [
        DayKinds.WEEKEND,  # Sunday
        DayKinds.HOLIDAY,  # Monday, a public holiday
        *[DayKinds.WORKING] * 4,  # Tuesday to Friday
        DayKinds.WORKING,  # Saturday, a make-up working day (调休)
        DayKinds.WEEKEND,  # Sunday
    ]
    assert days.count(0, 8) == {DayKinds.WORKING: 5, DayKinds.WEEKEND: 2, DayKinds.HOLIDAY: 1}
    # the demand splits its requests by the scenario's holiday calendar
    monkeypatch.setattr(
        day_kinds,
        "holiday_calendar",
        lambda scenario: (frozenset({dt.date(2023, 1, 2)}), frozenset({dt.date(2023, 1, 7)})),
    )
    scenario = tiny(tmp_path, "warmup_days=0", "horizon_days=8")
    rows = [row(d + 0.5, d, "filed") for d in range(8) for _ in range(d + 1)]
    counted = count_demand(rows, scenario)
    assert counted.by_day_kind == {
        DayKinds.WEEKEND: 1 + 8,
        DayKinds.HOLIDAY: 2,
        DayKinds.WORKING: 3 + 4 + 5 + 6 + 7,
    }
    assert sum(counted.working_minutes) == 3 + 4 + 5 + 6 + 7


def test_the_scenarios_holiday_calendar_names_the_days(tmp_path):
    days = DayKinds.of(tiny(tmp_path))  # China's calendar, the default
    on = {d: days.kind((d - dt.date(2023, 1, 1)).days) for d in (
        dt.date(2023, 1, 2),  # New Year, observed on a Monday
        dt.date(2023, 1, 28),  # a Saturday worked instead (调休) after the Spring Festival
        dt.date(2023, 1, 29),  # the Sunday, likewise
        dt.date(2023, 2, 4),  # a plain Saturday
        dt.date(2023, 10, 6),  # National Day week, a Friday
    )}  # fmt: skip
    assert list(on.values()) == [
        DayKinds.HOLIDAY, DayKinds.WORKING, DayKinds.WORKING, DayKinds.WEEKEND, DayKinds.HOLIDAY
    ]  # fmt: skip
    assert DayKinds.of(tiny(tmp_path, 'holidays="none"')).kind(1) == DayKinds.WORKING


# ---------------------------------------------------------------- intervals


@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=8))
def test_intervals_of_counts_and_rates_never_go_below_zero(values):
    s = summarize_positive(values)
    lo, hi = s.ci95
    assert 0 <= lo <= s.mean <= hi or math.isclose(lo, s.mean) or math.isclose(hi, s.mean)
    assert lo >= 0


def test_the_log_scale_interval_where_the_t_interval_goes_negative():
    values = [0.0, 0.0, 3.0]  # a rare request: the t-interval reaches below zero
    assert summarize(values).ci95[0] < 0
    s = summarize_positive(values)
    assert s.mean == 1.0 and 0 < s.ci95[0] < 1 < s.ci95[1]
    assert summarize_positive([0.0, 0.0]).ci95 == (0.0, 0.0)
    # on the log scale: the mean is the geometric centre of the interval
    assert math.sqrt(s.ci95[0] * s.ci95[1]) == pytest.approx(s.mean)


# ---------------------------------------------------------------- the command


def lower_bounds(node):
    """Every interval's lower bound in a JSON object."""
    if isinstance(node, dict):
        own = [node["ci95"][0]] if "ci95" in node and node["ci95"][0] is not None else []
        return own + [v for x in node.values() for v in lower_bounds(x)]
    if isinstance(node, list):
        return [v for x in node for v in lower_bounds(x)]
    return []


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
    assert list(d["requests"]) == rq.names(["central", "local"])
    central = d["requests"][rq.query("central")]
    lo, hi = central["per_second"]["ci95"]
    assert 0 <= lo <= central["per_second"]["mean"] <= hi and central["per_second"]["mean"] > 0
    # courts work office hours: the busiest hour of queries is inside them
    assert 8 <= central["peak_hour"] <= 17
    assert json.loads((out / "demand.json").read_text()) == d
    assert lower_bounds(d) and min(lower_bounds(d)) >= 0  # no interval goes below zero
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "demand" and manifest["seed"] == 2023
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Peak of a working day" in page and page.count("data:image/png;base64,") == 3
    assert "调休" in page and "font-src data:" in page  # the Chinese term's glyphs embedded


def test_demand_command_table_and_bad_input(cli, tmp_path):
    r = cli(
        "demand", str(BASELINE), "--set", "horizon_days=30", "--set", "warmup_days=0",
        "--replications", "1", "--no-progress",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "query central" in r.stdout and "peak /s" in r.stdout
    assert "peak minute" in r.stdout and "weekend" in r.stdout
    assert "rates at full volume" in r.stdout and "query channel share: central" in r.stdout
    for args, message in [
        ([str(tmp_path / "missing.toml")], "missing.toml"),
        ([str(BASELINE), "--replications", "0"], "--replications"),
        ([str(BASELINE), "--scale", "2"], "--scale"),
        ([str(BASELINE), "--seed", "-1"], "--seed"),
        ([str(BASELINE), "--precision", "0.1"], "unrecognized arguments"),
    ]:
        r = cli("demand", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and message in r.stderr, (args, r.stderr)
