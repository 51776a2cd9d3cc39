"""Each mechanism on its own, with exact answers."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sim.model.calendar import CalendarYears, WorkingTime
from sim.model.clock import Clock
from sim.model.debtors import Asset, DebtorFactory
from sim.model.filing import MonthlyRate
from sim.model.freeze import FreezeDesk
from sim.model.network import AgencyDesk, Finding, LinkRuntime
from sim.model.officers import Court, split_officers
from sim.model.sale import SaleStage
from sim.model.settlement import Settlement, to_fen
from sim.model.streams import Streams
from sim.model.topology import Topology
from sim.results.observer import Observer
from sim.scenario import load_scenario
from sim.scenario.schema import ALWAYS_OPEN, Agency, AssetType, Debtors
from sim.scenario.stages import Sale
from tests.conftest import BASELINE
from tests.sim.tiny import tiny

YEARS = CalendarYears(dt.date(2023, 1, 1))


def RNG() -> np.random.Generator:
    return np.random.default_rng(0)


def test_settlement_takes_what_the_claim_needs_in_fen():
    s = Settlement(10000.004, YEARS, math.inf)
    assert s.take(2, to_fen(4000)) == 400000
    assert s.take(30, to_fen(630000)) == 600000
    assert s.paid_off and s.take(40, 100) == 0


def test_provident_fund_cap_applies_per_calendar_year_across_accounts():
    s = Settlement(150000, YEARS, 50000)
    assert s.take(10, to_fen(200000), provident_fund=True) == to_fen(50000)
    assert s.take(20, to_fen(30000), provident_fund=True) == 0  # same debtor, same year
    assert s.take(365, to_fen(150000), provident_fund=True) == to_fen(50000)  # 2024
    assert s.take(400, to_fen(9000)) == to_fen(9000)  # a deposit is not capped
    assert s.take_all() == to_fen(41000)


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
    env = Clock()
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
    # February to November have rate 0: 62 units left at the end of January arrive in
    # December at rate 6
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
    assert len(factory.holdings()) == 2  # a pool debtor with new assets


def _finding(scenario, asset_type: AssetType, value: float, wrong=False) -> Finding:
    desk = AgencyDesk("bank", scenario.agencies["bank"], scenario, np.random.default_rng(0))
    link = scenario.link("r", "central", "bank")
    via = LinkRuntime("central", desk, link, Streams(1, 0), "r")
    return Finding(Asset(0, asset_type, value), via, 0.0, wrong)


def test_freeze_periods_by_asset_type_and_region(tmp_path):
    s = tiny(
        tmp_path,
        "regions.r.policy.freeze_period_years={bank_deposit=2}",
        "regions.r.policy.provident_fund_freeze_years=1",
    )
    assert s.freeze_years("r", AssetType.bank_deposit) == 2  # region over [freeze]
    assert s.freeze_years("r", AssetType.vehicle) == 2  # the law: movables 2 years
    assert s.freeze_years("r", AssetType.real_estate) == 3
    assert s.freeze_years("r", AssetType.provident_fund) == 1  # the region's own rule
    desk = FreezeDesk(s)
    (hold,), failures = desk.apply("r", [_finding(s, AssetType.bank_deposit, 100)], 0.0, 0.0, 1, 0)
    assert failures == [] and hold.at == 1.0 and hold.expires == 1.0 + 2 * 365
    assert not hold.waiting and hold.effective == hold.at and hold.available == 100


def test_wrong_records_and_hard_assets_fail(tmp_path):
    s = tiny(
        tmp_path,
        "freeze.hard.failure_probability.securities=1",
        "freeze.hard.extra_delay_days.securities=5",
    )
    desk = FreezeDesk(s)
    targets = [
        _finding(s, AssetType.bank_deposit, 1, wrong=True),
        _finding(s, AssetType.securities, 1),
    ]
    holds, failures = desk.apply("r", targets, 0.0, 0.0, 1, 0)
    assert holds == [] and len(failures) == 2
    assert failures[1].at > failures[0].at  # the extra delay of a stale securities record


def test_waiting_freeze_bites_when_the_earlier_one_is_released(tmp_path):
    s = tiny(
        tmp_path,
        "freeze.waiting.probability.bank_deposit=1",
        "freeze.waiting.release_days=100",
        "freeze.waiting.remaining_share=0.25",
    )
    (hold,), _ = FreezeDesk(s).apply(
        "r", [_finding(s, AssetType.bank_deposit, 400)], 0.0, 0.0, 1, 0
    )
    assert hold.waiting and hold.effective == hold.at + 100 and hold.available == 100


class _Sale:
    """A sale stage with its own generator, for short calls."""

    def __init__(self, **route) -> None:
        self.stage = SaleStage(Sale.model_validate({"real_estate": route}))

    def sell(self, *args):
        return self.stage.sell(*args, 1, 0)


def _sale(**route) -> _Sale:
    return _Sale(**route)


def test_sale_rounds_notices_prices_and_title_transfer():
    base = {
        "preparation_days": 10,
        "first_notice_days": 30,
        "second_notice_days": 15,
        "fixed_price_days": 60,
        "hammer_premium": 0,
        "payment_days": 10,
        "transfer_days": 20,
    }
    first = _sale(**base, success_probability=[1, 1, 1]).sell(AssetType.real_estate, 1000, 5)
    # prepared at 15, first auction at 45 (bidding one day), paid 10 days later
    assert (first.sold, first.rounds, first.paid_at) == (True, 1, 45 + 1 + 10)
    assert first.proceeds == pytest.approx(700) and first.transferred_at == 56 + 20
    second = _sale(**base, success_probability=[0, 1, 1]).sell(AssetType.real_estate, 1000, 5)
    assert second.rounds == 2 and second.proceeds == pytest.approx(560)  # 20% lower
    assert second.paid_at == 45 + 1 + 15 + 1 + 10
    fixed = _sale(**base, success_probability=[0, 0, 1]).sell(AssetType.real_estate, 1000, 5)
    assert fixed.rounds == 3 and fixed.paid_at == 61 + 1 + 60 + 1 + 10
    never = _sale(**base, success_probability=[0, 0, 0]).sell(AssetType.real_estate, 1000, 5)
    assert not never.sold and never.proceeds == 0
    zhejiang = _sale(**{**base, "transfer_days": 2}, success_probability=[1, 1, 1])
    assert zhejiang.sell(AssetType.real_estate, 1000, 5).transferred_at == 56 + 2


def test_topology_routes_and_coverage(tmp_path):
    topo = Topology(load_scenario(BASELINE).scenario)
    assert [r.channel for r in topo.routes("liaoning", AssetType.real_estate)] == ["local"]
    assert [r.channel for r in topo.routes("chongqing", AssetType.real_estate)] == [
        "central",
        "local",
    ]
    assert topo.routes("chongqing", AssetType.real_estate)[1].link.online_freeze is True
    assert topo.unreachable("hunan") == {AssetType.e_asset}
    assert Topology(tiny(tmp_path)).channels_used("r") == ["central"]
    off = Topology(tiny(tmp_path, "channels.central.enabled=false"))
    assert off.channels_used("r") == [] and off.reachable("r") == set()


def test_streams_are_named_and_not_shared():
    a = Streams(7, 0).rng("arrivals", "hunan").random(3)
    b = Streams(7, 0).rng("arrivals", "hunan").random(3)
    c = Streams(7, 1).rng("arrivals", "hunan").random(3)
    assert (a == b).all() and not (a == c).any()
    s = Streams(7, 0)
    s.rng("x")
    with pytest.raises(ValueError, match="already handed out"):
        s.rng("x")
