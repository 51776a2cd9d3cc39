"""The files of a run's results folder beside its summary, and their readers.

- ``replications.csv``: every metric of every replication, with the matters filed and the
  wall seconds it took;
- ``backlog.csv``: open cases and the 终本 pool over time, per replication
  (``replication, time_days, open_cases, terminated_pool``);
- ``distributions.csv``: cases per whole day of time to close and of time to recovery,
  pooled over replications (``days, time_to_close, time_to_recovery``);
- ``queries_by_hour.csv``: requests sent to agencies per day in each hour of the day, mean
  over replications (``channel, agency, hour, requests_per_day``); rows with an empty
  ``agency`` are a channel's total (always there, from the streaming statistics), the others
  are per agency (from the event log, so only when records are kept);
- ``scenario.toml``: the scenario that ran (after ``extends`` and ``--set``), and
  ``scenario_files/``: the text of the file and of every file it extends, child first.

Each writer has its reader, so the column names live in one place.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from sim.results.folders import csv_number
from sim.results.metrics import HEADLINE_METRICS
from sim.results.replication import ReplicationResult
from sim.scenario.loader import LoadedScenario

REPLICATIONS = "replications.csv"
BACKLOG = "backlog.csv"
DISTRIBUTIONS = "distributions.csv"
QUERIES_BY_HOUR = "queries_by_hour.csv"
SCENARIO_TOML = "scenario.toml"
SCENARIO_FILES = "scenario_files"


# ---------------------------------------------------------------- replications, backlog


def write_replications(path: Path, results: Sequence[ReplicationResult]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["replication", *HEADLINE_METRICS, "cases_filed", "wall_seconds"])
        for r in results:
            w.writerow(
                [
                    r.replication,
                    *(csv_number(r.metrics[m]) for m in HEADLINE_METRICS),
                    r.cases_filed,
                    round(r.wall_seconds, 3),
                ]
            )


def write_backlog(path: Path, results: Sequence[ReplicationResult]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["replication", "time_days", "open_cases", "terminated_pool"])
        for r in results:
            for t, c, p in zip(r.backlog_times, r.backlog_counts, r.pool_counts, strict=False):
                w.writerow([r.replication, csv_number(t), c, p])


@dataclass
class Backlog:
    """Open cases and the 终本 pool over time, every replication (rows) on one time axis."""

    t: np.ndarray
    open_cases: np.ndarray
    pool: np.ndarray


def read_backlog(path: Path) -> Backlog | None:
    """``backlog.csv`` cut to the shortest replication's samples (None when empty)."""
    by_rep: dict[str, tuple[list[float], list[float], list[float]]] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            t, o, p = by_rep.setdefault(row["replication"], ([], [], []))
            t.append(float(row["time_days"]))
            o.append(float(row["open_cases"]))
            p.append(float(row["terminated_pool"] or 0))
    if not by_rep:
        return None
    n = min(len(v[0]) for v in by_rep.values())
    first = next(iter(by_rep.values()))
    return Backlog(
        np.array(first[0][:n]),
        np.array([v[1][:n] for v in by_rep.values()]),
        np.array([v[2][:n] for v in by_rep.values()]),
    )


# ---------------------------------------------------------------- distributions


def _pooled(hists: Sequence[Sequence[int]]) -> list[int]:
    width = max((len(h) for h in hists), default=0)
    total = [0] * width
    for h in hists:
        for i, c in enumerate(h):
            total[i] += c
    return total


def write_distributions(path: Path, results: Sequence[ReplicationResult]) -> None:
    close = _pooled([r.close_days_hist for r in results])
    recovery = _pooled([r.recovery_days_hist for r in results])
    width = max(len(close), len(recovery))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["days", "time_to_close", "time_to_recovery"])
        for day in range(width):
            c = close[day] if day < len(close) else 0
            r = recovery[day] if day < len(recovery) else 0
            w.writerow([day, c, r])


def read_distributions(path: Path) -> dict[str, list[int]]:
    """``{"time_to_close": [cases on day 0, 1, ...], "time_to_recovery": [...]}``."""
    out: dict[str, list[int]] = {"time_to_close": [], "time_to_recovery": []}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for key, counts in out.items():
                counts.append(int(row[key]))
    return out


# ---------------------------------------------------------------- queries by hour


def write_queries_by_hour(
    path: Path, results: Sequence[ReplicationResult], observed_days: float
) -> None:
    n = len(results)
    scale = 1.0 / (n * observed_days) if n and observed_days > 0 else math.nan
    totals: dict[tuple[str, str], list[int]] = {}
    for r in results:
        for channel, hours in r.queries_by_hour.items():
            _add(totals, (channel, ""), hours)
        for key, hours in r.agency_queries_by_hour.items():
            _add(totals, key, hours)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["channel", "agency", "hour", "requests_per_day"])
        for (channel, agency), hours in sorted(totals.items()):
            for hour, count in enumerate(hours):
                w.writerow([channel, agency, hour, f"{count * scale:.6g}"])


def _add(totals: dict[tuple[str, str], list[int]], key: tuple[str, str], hours: list[int]):
    acc = totals.setdefault(key, [0] * 24)
    for i, c in enumerate(hours):
        acc[i] += c


def read_queries_by_hour(path: Path) -> dict[tuple[str, str], list[float]]:
    """``{(channel, agency): [requests per day in hour 0, ..., 23]}``; agency ``""`` is the
    channel's total."""
    out: dict[tuple[str, str], list[float]] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            hours = out.setdefault((row["channel"], row["agency"]), [0.0] * 24)
            hours[int(row["hour"])] = float(row["requests_per_day"])
    return out


# ---------------------------------------------------------------- the scenario's text


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def write_scenario(folder: Path, loaded: LoadedScenario) -> None:
    """``scenario.toml`` (what ran) and ``scenario_files/`` (the files as written)."""
    header = [
        f"# The scenario that ran: {loaded.path}",
        *(f"#   extends {p}" for p in loaded.files[1:]),
        *(f"#   --set {o}" for o in loaded.overrides),
        "# after extends, --set and region_defaults, with every default filled in.",
        "",
    ]
    body = tomli_w.dumps(_without_none(loaded.resolved()))
    (folder / SCENARIO_TOML).write_text("\n".join(header) + body, encoding="utf-8")
    files = folder / SCENARIO_FILES
    files.mkdir()
    for i, path in enumerate(loaded.files, start=1):
        (files / f"{i}-{path.name}").write_bytes(path.read_bytes())


def read_scenario_files(folder: Path) -> list[tuple[str, str]]:
    """``[(file name, text), ...]``: the scenario file first, then what it extends."""
    files = folder / SCENARIO_FILES
    if not files.is_dir():
        return []
    numbered = []
    for p in files.iterdir():
        number, _, name = p.name.partition("-")
        if number.isdigit() and name:
            numbered.append((int(number), name, p))
    return [(name, p.read_text(encoding="utf-8")) for _, name, p in sorted(numbered)]
