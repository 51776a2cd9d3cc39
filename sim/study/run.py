"""A run: replications of one scenario, summarised, written to a results folder.

:func:`run` is what ``chakong run`` and ``sim.simulate`` do (the study skeleton of
:mod:`sim.study.skeleton` with a run's files); :func:`summary_object` is the JSON shape
printed by ``--json`` and written to ``summary.json``; :func:`format_table` is the readable
table, its units and decimals from the metric catalogue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.engine.executors import Executor
from sim.model.events import CASE_COLUMNS, EVENT_COLUMNS
from sim.results import artifacts
from sim.results.folders import concatenate_parts, manifest, write_json
from sim.results.metrics import format_value, unit
from sim.results.records import CASES_CSV, EVENTS_CSV
from sim.results.replication import ReplicationResult
from sim.results.statistics import Summary
from sim.results.tables import text_table
from sim.scenario.loader import LoadedScenario
from sim.study.precision import MetricPrecision, PrecisionOutcome
from sim.study.settings import Settings
from sim.study.skeleton import Folder, Stamp, conduct, replicate


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


def run(
    loaded: LoadedScenario,
    settings: Settings,
    executor: Executor,
    folder: Folder,
    *,
    keep_records: bool = True,
) -> RunOutcome:
    """Run the replications and write the results folder (``folder``: default
    ``results/<scenario>/<UTC time>/``), finished by the caller's hook (the report). With a
    precision rule in ``settings``, the replication algorithm decides how many run."""
    scenario = loaded.scenario
    records = keep_records and folder.write

    def go(parts: Path | None) -> RunOutcome:
        done = replicate(
            executor,
            [scenario],
            settings,
            keep_records=records,
            parts_dirs=[parts] if records else None,
        )
        return RunOutcome(
            scenario.name,
            settings.seed,
            done.results[0],
            done.summaries[0],
            None,
            done.precision,
            loaded.scale,
        )

    def write_folder(tmp: Path, outcome: RunOutcome, stamp: Stamp) -> None:
        write_run_folder(
            tmp,
            loaded,
            outcome,
            keep_records=records,
            manifest_extra={"executor": executor.describe()},
            stamp=stamp,
            workers=executor.parallelism,
        )

    return conduct(go, write_folder, folder, scenario.name)


def write_run_folder(
    folder: Path,
    loaded: LoadedScenario,
    outcome: RunOutcome,
    *,
    keep_records: bool,
    manifest_extra: dict[str, Any],
    stamp: Stamp,
    workers: int,
) -> None:
    """Every file of a run's results folder but the plots and the report, which the
    caller's finish hook adds (see results/README.md)."""
    scenario = loaded.scenario
    results = outcome.replications
    write_json(folder / "summary.json", outcome.to_json())
    artifacts.write_replications(folder / artifacts.REPLICATIONS, results)
    artifacts.write_backlog(folder / artifacts.BACKLOG, results)
    if keep_records:
        concatenate_parts(
            folder / CASES_CSV,
            CASE_COLUMNS,
            (r.files["cases"] for r in results),
        )
        concatenate_parts(folder / EVENTS_CSV, EVENT_COLUMNS, (r.files["events"] for r in results))
    artifacts.write_distributions(folder / artifacts.DISTRIBUTIONS, results)
    artifacts.write_queries_by_hour(
        folder / artifacts.QUERIES_BY_HOUR,
        results,
        scenario.horizon_days - scenario.warmup_days,
    )
    artifacts.write_scenario(folder, loaded)
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
            started=stamp.started,
            wall_seconds=stamp.wall_seconds,
        ),
    )


# ---------------------------------------------------------------- the table


def format_table(outcome: RunOutcome) -> str:
    header: tuple[str, ...] = ("metric", "mean", "95% interval", "unit")
    judged = {}
    if outcome.precision is not None:
        header += ("half-width",)
        judged = {m.metric: m for m in outcome.precision.metrics}
    rows = [header]
    for name, s in outcome.summary.items():
        interval = (
            f"[{format_value(s.ci95[0], name)}, {format_value(s.ci95[1], name)}]"
            if s.n > 1
            else "-"
        )
        row: tuple[str, ...] = (name, format_value(s.mean, name), interval, unit(name))
        if outcome.precision is not None:
            row += (_precision_cell(judged.get(name)),)
        rows.append(row)
    lines = [
        f"{outcome.scenario}: {len(outcome.replications)} replications, seed {outcome.seed}",
        "",
        *text_table(rows, "<>^<."[: len(header)]),
    ]
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
