"""Scenario files: schema, loader and distributions, shared by ``sim`` and ``load``.

The names below are loaded on first use, so that importing a light module of this package
(:mod:`~sim.scenario.scaling`'s rule, :mod:`~sim.scenario.load_settings`) does not build
the whole schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "AssetType": "sim.scenario.schema",
    "ChannelName": "sim.scenario.schema",
    "LoadedScenario": "sim.scenario.loader",
    "Scenario": "sim.scenario.schema",
    "ScenarioError": "sim.scenario.loader",
    "load_scenario": "sim.scenario.loader",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sim.scenario' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(home), name)
