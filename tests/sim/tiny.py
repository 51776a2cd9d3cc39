"""A tiny deterministic scenario (constant distributions) for exact tests of the model."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from sim.model.clock import Clock
from sim.model.officers import Court, WorkLog
from sim.model.region import RegionRuntime
from sim.model.streams import Streams
from sim.scenario import load_scenario
from sim.scenario.schema import Scenario

TINY = """
name = "tiny"
start_date = 2023-01-01
horizon_days = 2000

[regions.r]
courts = 1
officers = 1
arrival_rate_per_day = 0
initial_pending_cases = 1
calendar = { days = "all", open = "00:00", close = "24:00" }
claim_yuan = 10000
officer_work = { investigate_days = 0.5, offline_control_days = 1, rework_days = 0.25 }
policy = { provident_fund_annual_cap_yuan = 50000 }

[debtors]
nothing_share = 0

[debtors.assets.bank_deposit]
hold_probability = 1
value_yuan = 4000

[agencies.bank]
holds = ["bank_deposit"]
processing_days = 0.1

[agencies.fund_centre]
holds = ["provident_fund"]
processing_days = 0.2

[channels.central]
agencies = ["bank", "fund_centre"]
latency_days = 0.05
error_probability = 0
online_freeze = true
online_deduct = true
control_latency_days = 1

[disbursement]
days = 10
"""


def tiny(tmp_path: Path, *overrides: str) -> Scenario:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return load_scenario(path, list(overrides)).scenario


@functools.cache
def tiny_scenario() -> Scenario:
    """The tiny scenario, loaded once."""
    with tempfile.TemporaryDirectory() as folder:
        return tiny(Path(folder))


@functools.cache
def region_and_court() -> tuple[RegionRuntime, Court]:
    """A real region of the tiny scenario and its court, for records that name them (the
    compiled model checks a case's fields against their types)."""
    scenario = tiny_scenario()
    region = RegionRuntime("r", scenario.regions["r"], scenario, Clock(), Streams(1, 0), WorkLog())
    return region, region.courts[0]
