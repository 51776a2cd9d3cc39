"""Each mechanism on its own, with exact answers."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import simpy

from sim.calendar import CalendarYears, WorkingTime
from sim.model.debtors import Asset, DebtorFactory
from sim.model.filing import MonthlyRate
from sim.model.network import AgencyDesk
from sim.model.officers import Court, split_officers
from sim.model.settlement import Offer, settle
from sim.scenario import load_scenario
from sim.scenario.schema import ALWAYS_OPEN, Agency, AssetType, Debtors
from sim.stats import Observer
from sim.streams import Streams
from sim.topology import Topology
from tests.conftest import BASELINE
from tests.tiny import tiny

YEARS = CalendarYears(dt.date(2023, 1, 1))
DEPOSIT = Asset(0, AssetType.bank_deposit, 4000)
FUND = Asset(1, AssetType.provident_fund, 200000)
HOUSE = Asset(2, AssetType.real_estate, 900000)


def test_settlement_takes_money_in_time_order_until_the_claim_is_paid():
    offers = [
        Offer(30, HOUSE, "local", "sale", 630000),
        Offer(2, DEPOSIT, "central", "deduct", 4000),
    ]
    payments = settle(10000, offers, YEARS, math.inf)
    assert [(p.at, p.kind, p.amount) for p in payments] == [(2, "deduct", 4000), (30, "sale", 6000)]
    # a sale whose proceeds come after the claim is paid is not taken
    assert [p.kind for p in settle(3000, offers, YEARS, math.inf)] == ["deduct"]


def test_provident_fund_cap_applies_per_calendar_year_across_accounts():
    second = Asset(3, AssetType.provident_fund, 30000)
    offers = [
        Offer(10, FUND, "central", "deduct", 200000),
        Offer(20, second, "central", "deduct", 30000),
    ]
    payments = settle(150000, offers, YEARS, 50000)
    by_year: dict[int, float] = {}
    for p in payments:
        by_year[YEARS.year_of(p.at)] = by_year.get(YEARS.year_of(p.at), 0) + p.amount
    assert by_year == {2023: 50000, 2024: 50000, 2025: 50000}
    assert payments[0].at == 10 and payments[1].at == 365.0


def test_agency_desk_is_fcfs_on_its_servers_and_polls():
    spec = Agency(
        holds=("bank_deposit",), servers=2, processing_days=0.5, poll_interval_minutes=60 * 6
    )
    scenario = load_scenario(BASELINE).scenario
    desk = AgencyDesk("bank", spec, scenario, np.random.default_rng(0))
    # polls every 6 hours, always open: requests at 0.1 wait for the 0.25 poll
    assert [desk.done_at(0.1) for _ in range(3)] == [0.75, 0.75, 1.25]
    assert desk.done_at(1.0) == 1.5  # picked up at 1.0; a desk is free from 0.75
    with pytest.raises(ValueError, match="time order"):
        desk.done_at(0.5)


def test_court_officers_are_fcfs_and_follow_the_calendar():
    env = simpy.Environment()
    obs = Observer(0, 100, 1)
    court = Court(env, "c", "r", 2, WorkingTime(ALWAYS_OPEN, dt.date(2023, 1, 2)), obs)
    assert court.book(0, 1.0) == (0, 1.0)
    assert court.book(0, 2.0) == (0, 2.0)
    assert court.book(0.5, 1.0) == (1.0, 2.0)  # waits for the first officer
    assert obs.officer_work_sum == 4.0
    assert split_officers(7, 3) == [3, 2, 2]


def test_monthly_rate_inverts_the_cumulative_rate():
    rate = MonthlyRate(2.0, [1.0] + [0.0] * 10 + [3.0], dt.date(2023, 1, 1), 365)
    assert rate.next_arrival(0, 2.0) == pytest.approx(1.0)  # unit work 2 at rate 2
    # February to November have rate 0: 62 units of work left at the end of January
    # arrive in December at rate 6 -> 334 + 62/6 days... but the horizon is 365
    assert rate.next_arrival(30, 2.0 + 62.0) == pytest.approx(334 + 62 / 6)
    assert rate.next_arrival(30, 1000) == math.inf
    assert rate.expected_between(0, 365) == pytest.approx(2 * 31 + 6 * 31)


def test_debtor_factory_respects_nothing_share_and_counts():
    debtors = Debtors.model_validate(
        {
            "nothing_share": 0.0,
            "assets": {"vehicle": {"hold_probability": 1, "count": 2, "value_yuan": 7}},
        }
    )
    assets = DebtorFactory(debtors, np.random.default_rng(0)).assets()
    assert [(a.index, a.asset_type, a.value_yuan) for a in assets] == [
        (0, AssetType.vehicle, 7.0),
        (1, AssetType.vehicle, 7.0),
    ]
    none = Debtors.model_validate({"nothing_share": 1.0, "assets": debtors.assets.model_dump()})
    factory = DebtorFactory(none, np.random.default_rng(0))
    assert all(factory.assets() == () for _ in range(100))


def test_topology_routes_and_coverage(tmp_path):
    topo = Topology(load_scenario(BASELINE).scenario)
    assert [r.channel for r in topo.routes("liaoning", AssetType.real_estate)] == ["local"]
    assert [r.channel for r in topo.routes("chongqing", AssetType.real_estate)] == [
        "central",
        "local",
    ]
    assert topo.routes("chongqing", AssetType.real_estate)[1].link.online_freeze is True
    assert topo.unreachable("hunan") == {AssetType.e_asset}
    small = Topology(tiny(tmp_path))
    assert small.channels_used("r") == ["central"]


def test_streams_are_named_and_not_shared():
    a = Streams(7, 0).rng("arrivals", "hunan").random(3)
    b = Streams(7, 0).rng("arrivals", "hunan").random(3)
    c = Streams(7, 1).rng("arrivals", "hunan").random(3)
    assert (a == b).all() and not (a == c).any()
    s = Streams(7, 0)
    s.rng("x")
    with pytest.raises(ValueError, match="already handed out"):
        s.rng("x")
