"""Designed sweeps: run every point of a design (:mod:`sim.study.design`), and say which
inputs drive the metrics (:mod:`sim.study.sensitivity`).

The design is drawn from the run's seed, so a sweep repeats exactly. Every point runs the
same replications with the same seed (common random numbers across points), so differences
between points are the inputs', not the dice's. The results folder holds ``sweep.csv``
(inputs and every metric's mean and 95% interval per point), ``replications.csv``,
``sensitivity.csv``, ``sweep.json``, the manifest, the scenario and ``report.html``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.engine.executors import Executor
from sim.errors import UserError
from sim.results import artifacts
from sim.results.folders import csv_number, write_json
from sim.results.metrics import HEADLINE_METRICS, format_value, unknown_metric
from sim.results.replication import ReplicationResult
from sim.results.statistics import Summary
from sim.results.tables import text_table
from sim.scenario import load_scenario
from sim.scenario.loader import LoadedScenario
from sim.study.compare import study_manifest
from sim.study.design import Design, Vary, point_overrides
from sim.study.precision import PrecisionOutcome
from sim.study.sensitivity import Sensitivity, sobol, standardised_regression
from sim.study.settings import Settings, scaled
from sim.study.skeleton import Folder, Stamp, conduct, replicate

DEFAULT_TARGETS = ("time_to_recovery_days_mean", "throughput_cases_per_year")


# ---------------------------------------------------------------- running


@dataclass
class SweepOutcome:
    scenario: str
    seed: int
    varies: list[Vary]
    design: Design
    results: list[list[ReplicationResult]]  # per point
    summaries: list[dict[str, Summary]]
    sensitivity: dict[str, dict[str, Sensitivity]]  # metric -> method -> result
    targets: list[str]
    precision: PrecisionOutcome | None = None
    out_dir: Path | None = None
    points_file: str = field(default="sweep.csv")

    @property
    def replications(self) -> int:
        return len(self.results[0]) if self.results else 0

    @property
    def method(self) -> str:
        return "sobol" if self.design.kind == "sobol" else "src"

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "scenario": self.scenario,
            "seed": self.seed,
            "design": self.design.kind,
            "samples": self.design.base,
            "points": len(self.design.points),
            "replications": self.replications,
            "inputs": [v.to_json() for v in self.varies],
            "targets": self.targets,
            "sensitivity": {
                m: {method: s.to_json() for method, s in by.items()}
                for m, by in self.sensitivity.items()
            },
            "design_points": [
                {
                    "point": k,
                    "block": self.design.blocks[k],
                    "inputs": point,
                    "metrics": {m: s.to_json() for m, s in self.summaries[k].items()},
                }
                for k, point in enumerate(self.design.points)
            ],
        }
        if self.precision is not None:
            obj["precision"] = self.precision.to_json()
        return obj

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per design point: its inputs and every metric's mean."""
        return [
            {"point": k, **point, **{m: s.mean for m, s in self.summaries[k].items()}}
            for k, point in enumerate(self.design.points)
        ]

    def frame(self) -> Any:
        """:meth:`rows` as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows())


def check_targets(targets: Sequence[str]) -> None:
    """Refuse a ``--metric`` that is not a headline metric."""
    problem = unknown_metric(tuple(targets), "--metric")
    if problem:
        raise UserError(problem)


def sweep(
    file: Path,
    overrides: Sequence[str],
    varies: Sequence[Vary],
    design: Design,
    settings: Settings,
    executor: Executor,
    folder: Folder,
    *,
    targets: Sequence[str] = DEFAULT_TARGETS,
    scale: float | None = None,
) -> SweepOutcome:
    """Run every design point with the same seed and replications, then the sensitivity;
    the results folder (``folder``: default ``results/sweep-<scenario>/<UTC time>/``) is
    finished by the caller's hook (the report). ``scale`` (default: the scenario's ``[run]
    scale``) runs every point at that fraction of the volume."""
    check_targets(targets)
    base = scaled(load_scenario(file, overrides), scale)
    scenarios = [
        load_scenario(file, [*overrides, *point_overrides(p)]).scaled(base.scale).scenario
        for p in design.points
    ]
    labels = [f"{base.scenario.name} point {k}" for k in range(len(scenarios))]

    def go(parts: Path | None) -> SweepOutcome:
        done = replicate(executor, scenarios, settings, labels=labels)
        return SweepOutcome(
            base.scenario.name,
            settings.seed,
            list(varies),
            design,
            done.results,
            done.summaries,
            analyse(design, varies, done.summaries),
            list(targets),
            done.precision,
        )

    def write_folder(tmp: Path, outcome: SweepOutcome, stamp: Stamp) -> None:
        write_sweep_folder(tmp, base, outcome, executor, stamp)

    return conduct(go, write_folder, folder, f"sweep-{base.scenario.name}")


def analyse(
    design: Design, varies: Sequence[Vary], summaries: Sequence[dict[str, Summary]]
) -> dict[str, dict[str, Sensitivity]]:
    """Every metric's sensitivity: SRC always, Sobol' indices for a sobol design."""
    inputs = [v.path for v in varies]
    x = np.array([[p[name] for name in inputs] for p in design.points], dtype=float)
    out: dict[str, dict[str, Sensitivity]] = {}
    metrics = list(summaries[0]) if summaries else []
    for m in metrics:
        y = np.array([s[m].mean for s in summaries], dtype=float)
        by = {"src": standardised_regression(x, y, inputs, m)}
        if design.kind == "sobol":
            n, d = design.base, len(inputs)
            by["sobol"] = sobol(y[:n], y[n : 2 * n], y[2 * n :].reshape(d, n), inputs, m)
        out[m] = by
    return out


# ---------------------------------------------------------------- outputs


def write_sweep_folder(
    folder: Path,
    base: LoadedScenario,
    outcome: SweepOutcome,
    executor: Executor,
    stamp: Stamp,
) -> None:
    inputs = [v.path for v in outcome.varies]
    with (folder / "sweep.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["point", "block", *inputs, "replications"]
            + [
                f"{m}_{part}"
                for m in HEADLINE_METRICS
                for part in ("mean", "ci95_low", "ci95_high")
            ]
        )
        for k, (point, summary) in enumerate(
            zip(outcome.design.points, outcome.summaries, strict=True)
        ):
            cells = []
            for m in HEADLINE_METRICS:
                got = summary.get(m)
                cells += (
                    [csv_number(got.mean), csv_number(got.ci95[0]), csv_number(got.ci95[1])]
                    if got
                    else ["", "", ""]
                )
            w.writerow(
                [
                    k,
                    outcome.design.blocks[k],
                    *(point[p] for p in inputs),
                    outcome.replications,
                    *cells,
                ]
            )
    with (folder / "replications.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["point", "replication", *inputs, *HEADLINE_METRICS])
        for k, (point, reps) in enumerate(zip(outcome.design.points, outcome.results, strict=True)):
            for r in reps:
                w.writerow(
                    [k, r.replication, *(point[p] for p in inputs)]
                    + [csv_number(r.metrics.get(m, math.nan)) for m in HEADLINE_METRICS]
                )
    with (folder / "sensitivity.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "metric",
                "method",
                "input",
                "value",
                "ci95_low",
                "ci95_high",
                "first_order",
                "driver",
                "r2",
                "points",
            ]
        )
        for m, by in outcome.sensitivity.items():
            for method, s in by.items():
                for e in s.effects:
                    w.writerow(
                        [
                            m,
                            method,
                            e.input,
                            csv_number(e.value),
                            csv_number(e.ci95[0]),
                            csv_number(e.ci95[1]),
                            csv_number(e.first_order),
                            str(e.driver).lower(),
                            csv_number(s.r2),
                            s.points,
                        ]
                    )
    write_json(folder / "sweep.json", outcome.to_json())
    artifacts.write_scenario(folder, base)
    write_json(
        folder / "manifest.json",
        study_manifest(
            "sweep",
            [base],
            outcome.seed,
            outcome.replications,
            executor,
            outcome.precision,
            stamp,
            extra={
                "design": outcome.design.kind,
                "samples": outcome.design.base,
                "vary": [v.text or f"{v.path}={v.low:g}:{v.high:g}" for v in outcome.varies],
                "metrics": outcome.targets,
            },
        ),
    )


# ---------------------------------------------------------------- the summary


def format_sweep(o: SweepOutcome) -> str:
    d = o.design
    runs = f"{len(d.points)} points x {o.replications} replications"
    if d.kind == "sobol":
        runs = f"{d.base} base samples, {runs}"
    lines = [f"sweep of {o.scenario}: {d.kind} design, {runs}, seed {o.seed}", "inputs:"]
    width = max(len(v.path) for v in o.varies)
    for v in o.varies:
        whole = " (whole numbers)" if v.integer else ""
        lines.append(f"  {v.path:<{width}}  {v.low:g} to {v.high:g}{whole}")
    method = o.method
    if method == "sobol":
        lines += ["", "which inputs drive the metrics (Sobol' indices: first order, total order):"]
        header = ("metric", "input", "first", "total", "")
    else:
        lines += [
            "",
            "which inputs drive the metrics (standardised regression coefficients, 95% intervals):",
        ]
        header = ("metric", "input", "SRC", "95% interval", "")
    rows: list[tuple[str, ...]] = [header]
    verdicts: dict[int, str] = {}
    for m in o.targets:
        s = o.sensitivity[m][method]
        for i, e in enumerate(s.effects or [None]):
            name = m if i == 0 else ""
            if e is None:
                rows.append((name, "-", "", "", ""))
            elif method == "sobol":
                rows.append(
                    (
                        name,
                        e.input,
                        f"{e.first_order:.2f}",
                        f"{e.value:.2f}",
                        "*" if e.driver else "",
                    )
                )
            else:
                interval = (
                    f"[{e.ci95[0]:+.2f}, {e.ci95[1]:+.2f}]" if math.isfinite(e.ci95[0]) else "-"
                )
                value = f"{e.value:+.2f}" if math.isfinite(e.value) else "-"
                rows.append((name, e.input, value, interval, "*" if e.driver else ""))
        verdicts[len(rows) - 1] = f"  {m}: {s.verdict()}"
    lines += [*text_table(rows, "<<>^."), ""]
    lines += [verdicts[k] for k in sorted(verdicts)]
    mark = (
        "a total-order index of at least 0.05"
        if method == "sobol"
        else "the coefficient's 95% interval excludes 0"
    )
    lines += ["", f"* a driver: {mark}"]
    means = []
    for m in o.targets:
        vals = [s[m].mean for s in o.summaries if not math.isnan(s[m].mean)]
        if vals:
            lo, hi = format_value(min(vals), m), format_value(max(vals), m)
            means.append(f"  {m}: {lo} to {hi} over the points")
    if means:
        lines += ["", "range of the point means:", *means]
    if o.precision is not None:
        lines += ["", o.precision.describe()]
    return "\n".join(lines)
