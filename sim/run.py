"""A run: replications of one scenario, summarised, written to a results folder.

:func:`execute` is what ``chakong run`` does, kept apart from argument parsing so tests
and notebooks can call it; :func:`summary_object` is the JSON shape printed by ``--json``
and written to ``summary.json``; :func:`format_table` is the readable table.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim import plots
from sim.outputs import (
    check_destination,
    concatenate_parts,
    default_results_dir,
    manifest,
    results_folder,
    write_json,
)
from sim.records import CASE_COLUMNS, EVENT_COLUMNS
from sim.replication import ReplicationResult
from sim.runner import run_replications
from sim.scenario.loader import LoadedScenario
from sim.stats import HEADLINE_METRICS, Summary, summarize_all


@dataclass
class RunOutcome:
    scenario: str
    seed: int
    replications: list[ReplicationResult]
    summary: dict[str, Summary]
    out_dir: Path | None
    scale: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return summary_object(
            self.scenario, self.seed, self.summary, len(self.replications), self.scale
        )


def summary_object(
    scenario: str, seed: int, summary: dict[str, Summary], replications: int, scale: float = 1.0
) -> dict[str, Any]:
    obj: dict[str, Any] = {"scenario": scenario, "seed": seed, "replications": replications}
    if scale != 1:
        obj["scale"] = scale
    obj["metrics"] = {name: s.to_json() for name, s in summary.items()}
    return obj


def execute(
    loaded: LoadedScenario,
    *,
    replications: int,
    seed: int,
    workers: int,
    out: Path | None = None,
    write: bool = True,
    keep_records: bool = True,
    show_progress: bool = True,
) -> RunOutcome:
    """Run the replications and (when ``write``) write the results folder."""
    scenario = loaded.scenario
    started = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    if not write:
        results = run_replications(
            scenario, seed, replications, workers, False, None, show_progress
        )
        summary = summarize_all([r.metrics for r in results])
        return RunOutcome(scenario.name, seed, results, summary, None, loaded.scale)
    destination = out if out is not None else default_results_dir(scenario.name)
    check_destination(destination)
    with results_folder(destination) as tmp:
        results = run_replications(
            scenario, seed, replications, workers, keep_records, tmp, show_progress
        )
        summary = summarize_all([r.metrics for r in results])
        outcome = RunOutcome(scenario.name, seed, results, summary, destination, loaded.scale)
        write_json(tmp / "summary.json", outcome.to_json())
        _write_replications(tmp / "replications.csv", results)
        _write_backlog(tmp / "backlog.csv", results)
        if keep_records:
            concatenate_parts(tmp / "cases.csv", CASE_COLUMNS, (r.files["cases"] for r in results))
            concatenate_parts(
                tmp / "events.csv", EVENT_COLUMNS, (r.files["events"] for r in results)
            )
        plots.time_to_close(tmp / "time_to_close.png", results, summary, scenario.name)
        plots.backlog(tmp / "backlog.png", results, scenario.warmup_days, scenario.name)
        write_json(
            tmp / "manifest.json",
            manifest(
                loaded,
                seed=seed,
                replications=replications,
                workers=workers,
                extra={"records_kept": keep_records},
                started=started,
                wall_seconds=time.perf_counter() - began,
            ),
        )
    return outcome


def _write_replications(path: Path, results: list[ReplicationResult]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["replication", *HEADLINE_METRICS, "cases_filed", "wall_seconds"])
        for r in results:
            w.writerow(
                [
                    r.replication,
                    *(_cell(r.metrics[m]) for m in HEADLINE_METRICS),
                    r.cases_filed,
                    round(r.wall_seconds, 3),
                ]
            )


def _write_backlog(path: Path, results: list[ReplicationResult]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["replication", "time_days", "open_cases", "terminated_pool"])
        for r in results:
            for t, c, p in zip(r.backlog_times, r.backlog_counts, r.pool_counts, strict=False):
                w.writerow([r.replication, _cell(t), c, p])


def _cell(v: float) -> str:
    return "" if v is None or math.isnan(v) else f"{v:.6g}"


# ---------------------------------------------------------------- the table

_UNITS = {
    "throughput_cases_per_year": ("cases/year", 0),
    "cases_filed_per_year": ("cases/year", 0),
    "time_to_close_days_mean": ("days", 1),
    "time_to_close_days_p50": ("days", 1),
    "time_to_close_days_p90": ("days", 1),
    "time_to_recovery_days_mean": ("days", 1),
    "recovery_rate": ("%", 1),
    "fully_performed_rate": ("%", 1),
    "partly_performed_rate": ("%", 1),
    "terminated_for_now_rate": ("%", 1),
    "officer_utilization": ("%", 1),
    "officer_wait_days_mean": ("days", 2),
    "time_in_system_days_mean": ("days", 1),
    "backlog_mean": ("cases", 0),
    "queries_per_day_central": ("/day", 1),
    "queries_per_day_local": ("/day", 1),
    "freeze_failure_rate": ("%", 1),
    "late_answer_rate": ("%", 2),
    "money_disbursed_yuan_per_year": ("yuan/year", 0),
}


def _fmt(value: float, unit: str, digits: int) -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "%":
        value *= 100
    return f"{value:,.{digits}f}"


def format_table(outcome: RunOutcome) -> str:
    rows = [("metric", "mean", "95% interval", "unit")]
    for name, s in outcome.summary.items():
        unit, digits = _UNITS.get(name, ("", 3))
        interval = (
            f"[{_fmt(s.ci95[0], unit, digits)}, {_fmt(s.ci95[1], unit, digits)}]"
            if s.n > 1
            else "-"
        )
        rows.append((name, _fmt(s.mean, unit, digits), interval, unit))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        f"{outcome.scenario}: {len(outcome.replications)} replications, seed {outcome.seed}",
        "",
    ]
    for i, r in enumerate(rows):
        lines.append(
            f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:^{widths[2]}}  {r[3]}".rstrip()
        )
        if i == 0:
            lines.append("-" * (sum(widths) + 6))
    return "\n".join(lines)
