"""Who can ask whom over which channel: the scenario's network as a networkx graph.

Nodes are regions, agencies and asset types. An edge ``region -> agency`` (keyed by the
channel, ``central`` or ``local``) carries the resolved :class:`~sim.scenario.schema.Link`
for that region, channel and agency; an edge ``agency -> asset type`` says the agency holds
those records. Routing and coverage are then graph questions: the asset types a region can
find are its descendants; the routes to an asset type are the paths region -> agency -> asset.
"""

from __future__ import annotations

from typing import NamedTuple

import networkx as nx

from sim.scenario.schema import AssetType, ChannelName, Link, Scenario


class Route(NamedTuple):
    """One way for a region to learn of (and act on) an asset type."""

    channel: ChannelName
    agency: str
    link: Link


def region_node(name: str) -> str:
    return f"region:{name}"


def agency_node(name: str) -> str:
    return f"agency:{name}"


def asset_node(asset: AssetType) -> str:
    return f"asset:{AssetType(asset).value}"


class Topology:
    """The query-and-control network of one scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        g = nx.MultiDiGraph()
        for asset in AssetType:
            g.add_node(asset_node(asset), kind="asset", name=asset.value)
        for name, agency in scenario.agencies.items():
            g.add_node(agency_node(name), kind="agency", name=name)
            for asset in agency.holds:
                g.add_edge(agency_node(name), asset_node(asset), key="holds")
        for rname in scenario.regions:
            g.add_node(region_node(rname), kind="region", name=rname)
            for channel in ChannelName:
                for aname in scenario.agencies:
                    link = scenario.link(rname, channel, aname)
                    if link is not None:
                        g.add_edge(region_node(rname), agency_node(aname), key=channel, link=link)
        self.graph = g

    def channels_used(self, region: str) -> list[ChannelName]:
        """Channels over which ``region`` reaches at least one agency."""
        keys = {k for _, _, k in self.graph.out_edges(region_node(region), keys=True)}
        return [c for c in ChannelName if c in keys]

    def agencies(self, region: str, channel: ChannelName) -> list[tuple[str, Link]]:
        """The agencies ``region`` reaches over ``channel``, with their links."""
        out = []
        for _, target, key, data in self.graph.out_edges(region_node(region), keys=True, data=True):
            if key == channel:
                out.append((self.graph.nodes[target]["name"], data["link"]))
        return out

    def routes(self, region: str, asset: AssetType) -> list[Route]:
        """Every route from ``region`` to ``asset``, in the region's order of preference."""
        target = asset_node(asset)
        routes = []
        for holder in self.graph.predecessors(target):
            edges = self.graph.get_edge_data(region_node(region), holder) or {}
            for channel, data in edges.items():
                routes.append(
                    Route(ChannelName(channel), self.graph.nodes[holder]["name"], data["link"])
                )
        order = {c: i for i, c in enumerate(self.scenario.regions[region].control_preference)}
        routes.sort(key=lambda r: order.get(r.channel, len(order)))
        return routes

    def reachable(self, region: str) -> set[AssetType]:
        """Asset types ``region`` can find over any channel."""
        found = nx.descendants(self.graph, region_node(region))
        return {a for a in AssetType if asset_node(a) in found}

    def unreachable(self, region: str) -> set[AssetType]:
        return set(AssetType) - self.reachable(region)

    def coverage(self) -> list[tuple[str, AssetType, list[ChannelName]]]:
        """Rows (region, asset type, channels that reach it) for every pair."""
        return [
            (rname, asset, [r.channel for r in self.routes(rname, asset)])
            for rname in self.scenario.regions
            for asset in AssetType
        ]
