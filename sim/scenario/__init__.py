"""Scenario files: schema, loader and distributions, shared by ``sim`` and ``load``."""

from sim.scenario.loader import LoadedScenario, ScenarioError, load_scenario
from sim.scenario.schema import AssetType, ChannelName, Scenario

__all__ = [
    "AssetType",
    "ChannelName",
    "LoadedScenario",
    "Scenario",
    "ScenarioError",
    "load_scenario",
]
