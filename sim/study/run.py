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
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.engine.executors import Executor, LocalExecutor
from sim.engine.replication import ReplicationResult
from sim.engine.runner import run_group
from sim.report import plots
from sim.results import artifacts
from sim.results.folders import (
    check_destination,
    concatenate_parts,
    default_results_dir,
    manifest,
    results_folder,
    write_json,
)
from sim.results.records import CASE_COLUMNS, EVENT_COLUMNS
from sim.results.statistics import HEADLINE_METRICS, Summary, summarize_all
from sim.scenario.loader import LoadedScenario
from sim.study.precision import MetricPrecision, PrecisionOutcome, PrecisionRule


@dataclass
class RunOutcome:
    scenario: str
    seed: int
    replications: list[ReplicationResult]
    summary: dict[str, Summary]
    out_dir: Path | None
    precision: PrecisionOutcome | None = None
    scale: float = 1.0

    def to_json(self) -> dict[str, Any]:
        obj = summary_object(
            self.scenario, self.seed, self.summary, len(self.replications), self.scale
        )
        if self.precision is not None:
            obj["precision"] = self.precision.to_json()
        return obj


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
    precision: PrecisionRule | None = None,
    executor: Executor | None = None,
    report: bool = True,
) -> RunOutcome:
    """Run the replications and (when ``write``) write the results folder, with its HTML
    report unless ``report`` is false. With ``precision``, the replication algorithm decides
    how many replications run (from the rule's ``initial`` up to its cap) and
    ``replications`` is not used. ``executor`` (local processes or Dask) defaults to
    ``workers`` local processes."""
    scenario = loaded.scenario
    started = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    with ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(LocalExecutor(workers, show_progress))
        if not write:
            group = run_group(
                executor,
                [scenario],
                seed,
                replications,
                precision=precision,
                show_progress=show_progress,
            )
            results = group.results[0]
            summary = summarize_all([r.metrics for r in results])
            return RunOutcome(
                scenario.name, seed, results, summary, None, group.precision, loaded.scale
            )
        destination = out if out is not None else default_results_dir(scenario.name)
        check_destination(destination)
        with results_folder(destination) as tmp:
            group = run_group(
                executor,
                [scenario],
                seed,
                replications,
                precision=precision,
                keep_records=keep_records,
                parts_dirs=[tmp],
                show_progress=show_progress,
            )
            results = group.results[0]
            summary = summarize_all([r.metrics for r in results])
            outcome = RunOutcome(
                scenario.name, seed, results, summary, destination, group.precision, loaded.scale
            )
            write_run_folder(
                tmp,
                loaded,
                outcome,
                keep_records=keep_records,
                manifest_extra={"executor": executor.describe()},
                started=started,
                began=began,
                workers=executor.parallelism,
            )
            if report:
                from sim.report.build import build_report

                build_report(tmp)
    return outcome


def write_run_folder(
    folder: Path,
    loaded: LoadedScenario,
    outcome: RunOutcome,
    *,
    keep_records: bool,
    manifest_extra: dict[str, Any],
    started: dt.datetime,
    began: float,
    workers: int,
    plots_png: bool = True,
) -> None:
    """Every file of a run's results folder but the report (see results/README.md);
    ``plots_png=False`` leaves out the PNG plots (a comparison's report draws its own)."""
    scenario = loaded.scenario
    results = outcome.replications
    write_json(folder / "summary.json", outcome.to_json())
    _write_replications(folder / "replications.csv", results)
    _write_backlog(folder / "backlog.csv", results)
    if keep_records:
        concatenate_parts(folder / "cases.csv", CASE_COLUMNS, (r.files["cases"] for r in results))
        concatenate_parts(
            folder / "events.csv", EVENT_COLUMNS, (r.files["events"] for r in results)
        )
    artifacts.write_distributions(folder / artifacts.DISTRIBUTIONS, results)
    artifacts.write_queries_by_hour(
        folder / artifacts.QUERIES_BY_HOUR,
        results,
        scenario.horizon_days - scenario.warmup_days,
    )
    artifacts.write_scenario(folder, loaded)
    if plots_png:
        plots.time_to_close(folder / "time_to_close.png", results, outcome.summary, scenario.name)
        plots.backlog(folder / "backlog.png", results, scenario.warmup_days, scenario.name)
    extra: dict[str, Any] = {"kind": "run", "records_kept": keep_records, **manifest_extra}
    if outcome.precision is not None:
        extra["precision"] = outcome.precision.to_json()
    write_json(
        folder / "manifest.json",
        manifest(
            loaded,
            seed=outcome.seed,
            replications=len(results),
            workers=workers,
            extra=extra,
            started=started,
            wall_seconds=time.perf_counter() - began,
        ),
    )


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
    "provident_fund_deducted_yuan_per_year": ("yuan/year", 0),
    "voluntary_payments_per_year": ("cases/year", 0),
    "renewal_failure_rate": ("%", 2),
    "case_to_matter_ratio": ("matters/case", 3),
    "restored_per_year": ("cases/year", 0),
    "requery_pushes_per_year": ("pushes/year", 0),
    "requery_lead_rate": ("%", 1),
    "requery_restore_rate": ("%", 2),
    "terminated_pool_mean": ("debtors", 0),
}


def _fmt(value: float, unit: str, digits: int) -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "%":
        value *= 100
    return f"{value:,.{digits}f}"


def metric_unit(name: str) -> tuple[str, int]:
    """A metric's unit and the decimals tables show (rates are shown in %)."""
    return _UNITS.get(name, ("", 3))


def format_value(value: float, name: str, signed: bool = False) -> str:
    """A metric's value as tables show it (rates in %, NaN as '-')."""
    unit, digits = metric_unit(name)
    text = _fmt(value, unit, digits)
    if signed and text != "-" and not text.startswith("-"):
        text = "+" + text
    return text


def format_table(outcome: RunOutcome) -> str:
    header = ("metric", "mean", "95% interval", "unit")
    judged = {}
    if outcome.precision is not None:
        header += ("half-width",)
        judged = {m.metric: m for m in outcome.precision.metrics}
    rows = [header]
    for name, s in outcome.summary.items():
        unit, digits = _UNITS.get(name, ("", 3))
        interval = (
            f"[{_fmt(s.ci95[0], unit, digits)}, {_fmt(s.ci95[1], unit, digits)}]"
            if s.n > 1
            else "-"
        )
        row = (name, _fmt(s.mean, unit, digits), interval, unit)
        if outcome.precision is not None:
            row += (_precision_cell(judged.get(name)),)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        f"{outcome.scenario}: {len(outcome.replications)} replications, seed {outcome.seed}",
        "",
    ]
    for i, r in enumerate(rows):
        line = f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:^{widths[2]}}  {r[3]:<{widths[3]}}"
        if len(r) > 4:
            line += f"  {r[4]}"
        lines.append(line.rstrip())
        if i == 0:
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    if outcome.precision is not None:
        lines += [
            "",
            "half-width: of the 95% interval, as a share of the mean (rates under 1%: of one "
            "percentage point)",
            outcome.precision.describe(),
        ]
    return "\n".join(lines)


def _precision_cell(m: MetricPrecision | None) -> str:
    """The relative half-width the precision rule judged, and its verdict."""
    if m is None:
        return "(not judged)"
    if m.status == "not judged":
        return f"(not judged: {m.note})"
    width = f"±{100 * m.relative:.1f}%" if math.isfinite(m.relative) else "undefined"
    mark = "ok" if m.status == "met" else "NOT MET"
    if m.note.startswith("rate under"):
        return f"{width} {mark} (of 1 point)"
    return f"{width} {mark}" + (f" ({m.note})" if m.note and m.note != "no variation" else "")
