"""What a report reads from a results folder: a run's summary, manifest, series and
scenario text (the report is rebuilt from the folder alone, on any machine)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.results import artifacts


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class RunData:
    """A run folder's files, as the report uses them."""

    folder: Path
    name: str
    summary: dict[str, Any]
    manifest: dict[str, Any]
    distributions: dict[str, list[int]] = field(default_factory=dict)
    backlog: artifacts.Backlog | None = None
    queries: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    files: list[tuple[str, str]] = field(default_factory=list)
    resolved: str = ""

    @property
    def warmup(self) -> float:
        return float(self.manifest.get("scenario", {}).get("resolved", {}).get("warmup_days", 0))


def load_run(folder: Path) -> RunData:
    summary = read_json(folder / "summary.json")
    data = RunData(folder, summary["scenario"], summary, read_json(folder / "manifest.json"))
    if (folder / artifacts.DISTRIBUTIONS).is_file():
        data.distributions = artifacts.read_distributions(folder / artifacts.DISTRIBUTIONS)
    if (folder / artifacts.BACKLOG).is_file():
        data.backlog = artifacts.read_backlog(folder / artifacts.BACKLOG)
    if (folder / artifacts.QUERIES_BY_HOUR).is_file():
        data.queries = artifacts.read_queries_by_hour(folder / artifacts.QUERIES_BY_HOUR)
    _scenario_text(folder, data)
    return data


def load_scenario_only(folder: Path) -> RunData:
    """A folder's scenario text alone (a sweep keeps no run folder of its own)."""
    data = RunData(folder, "", {}, {})
    _scenario_text(folder, data)
    return data


def _scenario_text(folder: Path, data: RunData) -> None:
    data.files = artifacts.read_scenario_files(folder)
    if (folder / artifacts.SCENARIO_TOML).is_file():
        data.resolved = (folder / artifacts.SCENARIO_TOML).read_text(encoding="utf-8")
