"""Designed sweeps: vary scenario fields over ranges, run every design point, and say which
inputs drive the metrics.

``--vary PATH=LOW:HIGH`` names a numeric field (a ``--set`` path) and its range; a whole
number field (e.g. ``officers``) takes whole values only. The design comes from
:mod:`scipy.stats.qmc`:

- ``lhs``: a Latin hypercube of ``--samples`` points (default 8);
- ``sobol``: Saltelli's A, B and AB matrices from a scrambled Sobol' sequence with
  ``--samples`` base points (a power of 2, default 8), ``samples x (inputs + 2)`` points in
  all, which give Sobol' indices (:func:`sim.study.sensitivity.sobol`);
- ``grid``: every combination of ``k`` evenly spaced levels per input (``--samples`` must be
  ``k`` to the power of the number of inputs; default 3 levels).

The design is drawn from the run's seed, so a sweep repeats exactly. Every point runs the
same replications with the same seed (common random numbers across points), so differences
between points are the inputs', not the dice's. The results folder holds ``sweep.csv``
(inputs and every metric's mean and 95% interval per point), ``replications.csv``,
``sensitivity.csv``, ``sweep.json``, the manifest, the scenario and ``report.html``.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from sim.engine.executors import Executor
from sim.engine.replication import ReplicationResult
from sim.engine.runner import run_group
from sim.errors import UserError
from sim.results import artifacts
from sim.results.folders import check_destination, default_results_dir, results_folder, write_json
from sim.results.statistics import HEADLINE_METRICS, Summary, summarize_all
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.loader import LoadedScenario, apply_overrides, read_with_extends
from sim.study.compare import study_manifest
from sim.study.precision import PrecisionOutcome, PrecisionRule
from sim.study.run import format_value
from sim.study.sensitivity import Sensitivity, sobol, standardised_regression

DESIGNS = ("lhs", "sobol", "grid")
DEFAULT_TARGETS = ("time_to_recovery_days_mean", "throughput_cases_per_year")


@dataclass(frozen=True)
class Vary:
    """One input of a sweep: a scenario field and its range."""

    path: str
    low: float
    high: float
    integer: bool = False
    text: str = ""  # as the user wrote it

    def value(self, u: float, grid: bool = False) -> float | int:
        """The input at ``u`` in [0, 1]: uniform over the range, or over its whole
        numbers (a grid keeps the ends)."""
        if not self.integer:
            return float(self.low + u * (self.high - self.low))
        lo, hi = int(self.low), int(self.high)
        if grid:
            return lo + round(u * (hi - lo))
        return min(hi, lo + math.floor(u * (hi - lo + 1)))

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "low": self.low, "high": self.high, "integer": self.integer}


def parse_vary(text: str) -> tuple[str, float, float]:
    """``"PATH=LOW:HIGH"`` -> (path, low, high), or a one-line error naming the flag."""
    flag = f"--vary {text}"
    path, eq, span = text.partition("=")
    path = path.strip()
    if not eq:
        raise UserError(f"{flag}: expected PATH=LOW:HIGH, e.g. regions.hunan.officers=10:20")
    if not path or any(not part for part in path.split(".")):
        raise UserError(f"{flag}: the path '{path}' is empty or has an empty part")
    if span.count(":") != 1:
        raise UserError(f"{flag}: expected LOW:HIGH after '=', e.g. {path}=10:20")
    bounds = []
    for name, part in zip(("LOW", "HIGH"), span.split(":"), strict=True):
        try:
            value = float(part)
        except ValueError:
            raise UserError(f"{flag}: {name} '{part.strip()}' is not a number") from None
        if not math.isfinite(value):
            raise UserError(f"{flag}: {name} must be a finite number")
        bounds.append(value)
    low, high = bounds
    if low >= high:
        raise UserError(f"{flag}: LOW ({low:g}) must be less than HIGH ({high:g})")
    return path, low, high


def _lookup(data: Any, parts: list[str]) -> tuple[bool, Any]:
    node = data
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _field_value(file: Path, overrides: Sequence[str], path: str) -> tuple[bool, Any]:
    """The field's value, typed by the schema where possible (a resolved float stays a
    float even when the file wrote ``12``)."""
    resolved = load_scenario(file, overrides).resolved()
    parts = path.split(".")
    found, value = _lookup(resolved, parts)
    if found:
        return True, value
    if parts[0] == "region_defaults":  # typed like the same field of any region
        for region in resolved.get("regions", {}).values():
            found, value = _lookup(region, parts[1:])
            if found:
                return True, value
    data = apply_overrides(read_with_extends(file)[0], overrides)
    return _lookup(data, parts)


def resolve_varies(file: Path, overrides: Sequence[str], texts: Sequence[str]) -> list[Vary]:
    """Parse ``--vary`` flags and check them against the scenario: the field exists and is
    a number, whole numbers stay whole, and the scenario is valid at both ends."""
    if not texts:
        raise UserError("sweep: give at least one --vary PATH=LOW:HIGH")
    varies: list[Vary] = []
    for text in texts:
        path, low, high = parse_vary(text)
        flag = f"--vary {text}"
        if any(v.path == path for v in varies):
            raise UserError(f"{flag}: {path} is varied twice")
        found, value = _field_value(file, overrides, path)
        if not found:
            raise UserError(f"{flag}: {file} has no field '{path}'")
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "a table" if isinstance(value, dict) else f"not a number ({value!r})"
            raise UserError(f"{flag}: '{path}' is {kind}; vary a number")
        integer = isinstance(value, int)
        if integer and not (low.is_integer() and high.is_integer()):
            raise UserError(f"{flag}: '{path}' is a whole number; give whole LOW and HIGH")
        varies.append(Vary(path, low, high, integer, text))
    for end in ("low", "high"):
        point = {v.path: v.value(0.0 if end == "low" else 1.0, grid=True) for v in varies}
        try:
            load_scenario(file, [*overrides, *point_overrides(point)])
        except ScenarioError as exc:
            lines = [f"{line} (with every --vary at its {end.upper()})" for line in exc.problems]
            lines = [line.replace("(from --set ", "(from --vary ") for line in lines]
            raise UserError(lines) from None
    return varies


def point_overrides(point: dict[str, float | int]) -> list[str]:
    return [f"{path}={value!r}" for path, value in point.items()]


# ---------------------------------------------------------------- designs


@dataclass
class Design:
    kind: str
    points: list[dict[str, float | int]]
    blocks: list[str]  # sobol: "A", "B", "AB1".."ABd"; else ""
    base: int  # sobol: base samples n


def make_design(kind: str, varies: Sequence[Vary], samples: int | None, seed: int) -> Design:
    d = len(varies)
    rng = np.random.default_rng(seed)
    if kind == "lhs":
        n = samples or 8
        if n < 2:
            raise UserError(f"--samples {n}: the lhs design needs at least 2 points")
        unit = qmc.LatinHypercube(d, rng=rng).random(n)
        return Design(kind, _values(unit, varies), [""] * n, n)
    if kind == "sobol":
        n = samples or 8
        if n < 2 or n & (n - 1):
            below = 2 ** max(1, int(math.log2(max(n, 2))))
            raise UserError(
                f"--samples {n}: the sobol design needs a power of 2 base points, e.g. "
                f"{below} or {2 * below}"
            )
        u = qmc.Sobol(2 * d, scramble=True, rng=rng).random(n)
        a, b = u[:, :d], u[:, d:]
        pages = [a, b]
        for i in range(d):
            ab = a.copy()
            ab[:, i] = b[:, i]
            pages.append(ab)
        blocks = ["A"] * n + ["B"] * n + [f"AB{i + 1}" for i in range(d) for _ in range(n)]
        return Design(kind, _values(np.vstack(pages), varies), blocks, n)
    if kind == "grid":
        k = round(samples ** (1 / d)) if samples else 3
        n = k**d
        if k < 2 or (samples and n != samples):
            raise UserError(
                f"--samples {samples}: a grid over {d} inputs needs k^{d} points "
                f"(k levels per input), e.g. {2**d} or {3**d}"
            )
        for v in varies:
            if v.integer and k > v.high - v.low + 1:
                raise UserError(
                    f"--samples {n}: {k} grid levels, but {v.path} has only "
                    f"{int(v.high - v.low + 1)} whole values in [{v.low:g}, {v.high:g}]"
                )
        levels = np.linspace(0, 1, k)
        unit = np.array(list(itertools.product(levels, repeat=d)))
        return Design(kind, _values(unit, varies, grid=True), [""] * n, n)
    raise UserError(f"--design {kind}: choose one of {', '.join(DESIGNS)}")


def _values(
    unit: np.ndarray, varies: Sequence[Vary], grid: bool = False
) -> list[dict[str, float | int]]:
    return [{v.path: v.value(float(u[j]), grid) for j, v in enumerate(varies)} for u in unit]


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


def sweep(
    file: Path,
    overrides: Sequence[str],
    varies: Sequence[Vary],
    design: Design,
    *,
    seed: int,
    replications: int,
    executor: Executor,
    targets: Sequence[str] = DEFAULT_TARGETS,
    precision: PrecisionRule | None = None,
    out: Path | None = None,
    write: bool = True,
    report: bool = True,
    show_progress: bool = True,
    scale: float | None = None,
) -> SweepOutcome:
    """Run every design point with the same seed and replications, then the sensitivity.
    ``scale`` (default: the scenario's ``[run] scale``) runs every point at that fraction
    of the volume, resources scaled alike."""
    for m in targets:
        if m not in HEADLINE_METRICS:
            raise UserError(
                f"--metric {m}: unknown metric; choose from {', '.join(HEADLINE_METRICS)}"
            )
    started = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    base = load_scenario(file, overrides)
    if scale is None:
        scale = base.scenario.run.scale
    base = base.scaled(scale)
    scenarios = [
        load_scenario(file, [*overrides, *point_overrides(p)]).scaled(scale).scenario
        for p in design.points
    ]
    labels = [f"{base.scenario.name} point {k}" for k in range(len(scenarios))]

    def run() -> SweepOutcome:
        group = run_group(
            executor,
            scenarios,
            seed,
            replications,
            precision=precision,
            show_progress=show_progress,
            labels=labels,
        )
        summaries = [summarize_all([r.metrics for r in reps]) for reps in group.results]
        return SweepOutcome(
            base.scenario.name,
            seed,
            list(varies),
            design,
            group.results,
            summaries,
            analyse(design, varies, summaries),
            list(targets),
            group.precision,
        )

    if not write:
        return run()
    destination = out if out is not None else default_results_dir(f"sweep-{base.scenario.name}")
    check_destination(destination)
    with results_folder(destination) as tmp:
        outcome = run()
        outcome.out_dir = destination
        write_sweep_folder(tmp, base, outcome, executor, started, began)
        if report:
            from sim.report.build import build_report

            build_report(tmp)
    return outcome


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
    started: dt.datetime,
    began: float,
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
                s = summary.get(m)
                cells += [_cell(s.mean), _cell(s.ci95[0]), _cell(s.ci95[1])] if s else ["", "", ""]
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
                    + [_cell(r.metrics.get(m, math.nan)) for m in HEADLINE_METRICS]
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
                            _cell(e.value),
                            _cell(e.ci95[0]),
                            _cell(e.ci95[1]),
                            _cell(e.first_order),
                            str(e.driver).lower(),
                            _cell(s.r2),
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
            started,
            began,
            extra={
                "design": outcome.design.kind,
                "samples": outcome.design.base,
                "vary": [v.text or f"{v.path}={v.low:g}:{v.high:g}" for v in outcome.varies],
                "metrics": outcome.targets,
            },
        ),
    )


def _cell(v: float) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"


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
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for i, r in enumerate(rows):
        lines.append(
            f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  "
            f"{r[3]:^{widths[3]}}  {r[4]}".rstrip()
        )
        if i == 0:
            lines.append("-" * (sum(widths) + 8))
    lines.append("")
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
