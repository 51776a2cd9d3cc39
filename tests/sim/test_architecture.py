"""The house's arrows: no import circle anywhere in ``sim`` or ``load``, and the layers of
``sim`` one way (the same checks as ``lint-imports``, with the import graph built here)."""

from __future__ import annotations

import grimp
import networkx as nx
import pytest

LAYERS = ["errors", "scenario", "model", "results", "engine", "study", "reporting", "cli|api"]


@pytest.fixture(scope="module")
def imports() -> nx.DiGraph:
    """Every module of sim and load, and an edge from each to every module it imports
    (including imports made only for type checking, and imports inside functions)."""
    graph = grimp.build_graph("sim", "load", include_external_packages=False)
    g = nx.DiGraph()
    for module in graph.modules:
        g.add_node(module)
        g.add_edges_from(
            (module, other) for other in graph.find_modules_directly_imported_by(module)
        )
    return g


def test_no_import_circle_in_sim_or_load(imports):
    assert imports.number_of_nodes() > 50  # the graph was built
    tangles = [sorted(c) for c in nx.strongly_connected_components(imports) if len(c) > 1]
    circles = [next(nx.simple_cycles(imports.subgraph(t))) for t in tangles]
    for circle in circles:
        print("import circle:", " -> ".join([*circle, circle[0]]))
    assert not circles, circles


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "sim" or len(parts) < 2:
        return None
    for rank, names in enumerate(LAYERS):
        if parts[1] in names.split("|"):
            return rank
    return None


def test_sim_layers_import_downwards_only_and_never_load(imports):
    upward = []
    for a, b in imports.edges:
        if a.startswith("sim") and b.split(".")[0] == "load":
            upward.append(f"{a} -> {b} (sim never imports load)")
        la, lb = _layer(a), _layer(b)
        if la is not None and lb is not None and lb > la:
            upward.append(f"{a} -> {b}")
        if la == lb == len(LAYERS) - 1 and a.split(".")[1] != b.split(".")[1]:
            upward.append(f"{a} -> {b} (cli and api are independent)")
    assert not upward, "\n".join(upward)
