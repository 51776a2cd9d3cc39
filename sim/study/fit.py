"""Calibration as a reproducible fit: ``chakong calibrate --fit FILE``.

The scenario marks its free parameters in a ``[fit]`` table (a dotted ``--set`` path and
its ``[low, high]`` bounds) and its published figures in ``[[calibration]]`` (each a
``target``, or a ``check`` that is never fitted). The fit minimises the sum of squares of
every target's miss in units of its tolerance, ``(simulated mean - published) /
tolerance``, so a target is met when its residual lies in [-1, 1]:

1. **design**: a Latin hypercube (:mod:`scipy.stats.qmc`, drawn from the seed) of
   ``--samples`` points over the bounds (default ``2 x parameters + 2``);
2. **local search**: :func:`scipy.optimize.least_squares` (trust-region reflective,
   within the bounds) from the design's best point. Its Jacobian is taken by forward
   differences of 5% of each parameter's range (a step wide enough to see through the
   jitter of a discrete-event model; the points run together), then carried along by
   Broyden's rank-one updates, so a step costs one evaluation, and taken afresh by
   differences whenever a step cut the cost by less than 20%.

Every evaluation runs the same replications with the same seed (common random numbers), so
the objective is a deterministic function of the parameters and the fit repeats exactly.
The search stops when every target lies within a quarter of its tolerance, when least
squares converges, or after ``--max-evaluations`` evaluations, and keeps the best point
seen. The results folder (default ``results/calibrate-<scenario>/<UTC time>/``) holds
``fit.json`` (every evaluation, the fitted values, each figure simulated beside published),
``evaluations.csv``, ``fitted.set`` (the values as ``--set`` lines), ``fitted.toml`` (a
scenario extending the file with the fitted values) and ``manifest.json``.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from scipy.optimize import least_squares
from scipy.stats import qmc
from tqdm import tqdm

from sim.engine.executors import Executor
from sim.errors import UserError
from sim.results.folders import csv_number, manifest, write_json
from sim.results.statistics import Summary
from sim.results.tables import text_table
from sim.scenario import load_scenario
from sim.scenario.loader import LoadedScenario
from sim.study.calibrate import aim, check_targets, rows_table, sources, target_rows
from sim.study.design import Vary, check_inputs, point_overrides
from sim.study.settings import FitOptions, Settings
from sim.study.skeleton import Folder, Stamp, conduct, replicate

STEP = 0.05
"""The Jacobian's difference step, as a share of each parameter's range."""

GOOD_ENOUGH = 0.25
"""The search stops once every target lies within this share of its tolerance."""

REFRESH = 0.8
"""A fresh Jacobian by differences when the cost fell by less than this since the last."""

MISSING = 10.0
"""The residual of a target whose metric was not observed (NaN)."""


def default_samples(parameters: int) -> int:
    return 2 * parameters + 2


# ---------------------------------------------------------------- the free parameters


def free_parameters(loaded: LoadedScenario) -> list[Vary]:
    """The ``[fit]`` table checked against the file: every path a number of the
    scenario, not a whole number, and the scenario valid at every low and every high."""
    fit = loaded.scenario.fit
    if not fit:
        raise UserError(
            f"{loaded.path}: fit: no free parameters (give a [fit] table of PATH = [low, high])"
        )
    check_targets(loaded)
    where = f"{loaded.path}: fit"
    inputs = [
        (path, low, high, f"{where}.{path}", f"{path} = [{low:g}, {high:g}]")
        for path, (low, high) in fit.items()
    ]
    return check_inputs(loaded.path, loaded.overrides, inputs, "[fit] bound", whole=False)


# ---------------------------------------------------------------- evaluations


@dataclass(frozen=True)
class Evaluation:
    """One point of the fit: the parameters, every metric's summary, the residuals."""

    index: int
    stage: str  # "design" or "search"
    point: dict[str, float]
    summary: dict[str, Summary]
    residuals: tuple[float, ...]  # one per target, in units of its tolerance

    @property
    def cost(self) -> float:
        return float(sum(r * r for r in self.residuals))

    @property
    def worst(self) -> float:
        return max(abs(r) for r in self.residuals)


class _Stop(Exception):
    """Raised inside the search: good enough, or out of evaluations."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


@dataclass
class FitOutcome:
    scenario: str
    seed: int
    replications: int
    scale: float
    volume_factor: float
    free: list[Vary]
    evaluations: list[Evaluation]
    best: Evaluation
    rows: list[dict[str, Any]]  # every published figure beside the best point
    stopped_by: str
    out_dir: Path | None = None
    samples: int = 0
    max_evaluations: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fitted(self) -> dict[str, float]:
        return dict(self.best.point)

    @property
    def passed(self) -> bool:
        return all(r["passed"] for r in self.rows if r["role"] == "target")

    def set_lines(self) -> list[str]:
        return [f"--set {line}" for line in point_overrides(self.fitted)]

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "replications": self.replications,
            "scale": self.scale,
            "volume_factor": self.volume_factor,
            "method": {
                "design": "latin hypercube (scipy.stats.qmc)",
                "samples": self.samples,
                "search": "scipy.optimize.least_squares (trf, bounded)",
                "jacobian": "forward differences, then Broyden updates",
                "jacobian_step": STEP,
                "jacobian_refresh": REFRESH,
                "good_enough": GOOD_ENOUGH,
                "max_evaluations": self.max_evaluations,
            },
            "parameters": [{**v.to_json(), "fitted": self.fitted[v.path]} for v in self.free],
            "fitted": self.fitted,
            "stopped_by": self.stopped_by,
            "passed": self.passed,
            "evaluations": [
                {
                    "index": e.index,
                    "stage": e.stage,
                    "point": e.point,
                    "cost": e.cost,
                    "residuals": list(e.residuals),
                }
                for e in self.evaluations
            ],
            "best": self.best.index,
            "targets": self.rows,
        }


class Fit:
    """The objective: evaluations of points under common random numbers, cached."""

    def __init__(
        self,
        loaded: LoadedScenario,
        free: list[Vary],
        settings: Settings,
        executor: Executor,
        budget: int,
        tick: Callable[[Evaluation], None],
    ) -> None:
        self.loaded = loaded
        self.free = free
        self.settings = settings
        self.executor = executor
        self.budget = budget
        self.tick = tick
        self.evaluations: list[Evaluation] = []
        self._cache: dict[tuple[float, ...], Evaluation] = {}
        self.targets = [
            (t.metric, *aim(loaded, t)) for t in loaded.scenario.calibration if t.role == "target"
        ]

    # points are kept in the unit cube [0, 1]^d; the search works in [1, 2]^d, where a
    # relative step is the same share of every range
    def point(self, u: np.ndarray) -> dict[str, float]:
        clipped = np.clip(u, 0.0, 1.0)
        return {v.path: v.value(float(x)) for v, x in zip(self.free, clipped, strict=True)}

    def evaluate(self, units: Sequence[np.ndarray], stage: str) -> list[Evaluation]:
        """Evaluate points (unit cube), those not yet seen together in one group."""
        keys = [tuple(round(float(x), 12) for x in u) for u in units]
        new = [k for k in dict.fromkeys(keys) if k not in self._cache]
        if new:
            left = self.budget - len(self.evaluations)
            if stage == "search" and len(new) > left:
                raise _Stop("max-evaluations")
            loadeds = [
                load_scenario(
                    self.loaded.path,
                    [*self.loaded.overrides, *point_overrides(self.point(np.array(k)))],
                ).scaled(self.loaded.scale)
                for k in new
            ]
            done = replicate(self.executor, [ld.scenario for ld in loadeds], self.settings)
            for k, summary in zip(new, done.summaries, strict=True):
                e = Evaluation(
                    len(self.evaluations),
                    stage,
                    self.point(np.array(k)),
                    summary,
                    self._residuals(summary),
                )
                self.evaluations.append(e)
                self._cache[k] = e
                self.tick(e)
        return [self._cache[k] for k in keys]

    def _residuals(self, summary: dict[str, Summary]) -> tuple[float, ...]:
        out = []
        for metric, target, tol in self.targets:
            mean = summary[metric].mean
            out.append(MISSING if math.isnan(mean) else (mean - target) / tol)
        return tuple(out)

    def best(self) -> Evaluation:
        return min(self.evaluations, key=lambda e: e.cost)

    # ------------------------------------------------------------ the local search
    def search(self, start: np.ndarray) -> str:
        d = len(self.free)

        def check(e: Evaluation) -> None:
            if e.worst <= GOOD_ENOUGH:
                raise _Stop("good enough")

        def fun(x: np.ndarray) -> np.ndarray:
            (e,) = self.evaluate([x - 1.0], "search")
            check(e)
            return np.array(e.residuals)

        last: dict[str, Any] = {}  # the Jacobian, and where it was taken

        def jac(x: np.ndarray) -> np.ndarray:
            u = x - 1.0
            (here,) = self.evaluate([u], "search")
            r = np.array(here.residuals)
            if not last or here.cost > REFRESH * last["cost"]:
                J = differences(u, r)
            else:  # Broyden's rank-one update along the step just taken
                du = u - last["u"]
                J = last["J"] + np.outer(r - last["r"] - last["J"] @ du, du) / (du @ du)
            last.update(J=J, u=u, r=r, cost=here.cost)
            return J

        def differences(u: np.ndarray, r0: np.ndarray) -> np.ndarray:
            steps = []
            for j in range(d):
                h = STEP if u[j] + STEP <= 1.0 else -STEP
                shifted = u.copy()
                shifted[j] += h
                steps.append((shifted, h))
            moved = self.evaluate([s for s, _ in steps], "search")
            for e in moved:
                check(e)
            return np.column_stack(
                [(np.array(e.residuals) - r0) / h for e, (_, h) in zip(moved, steps, strict=True)]
            )

        try:
            result = least_squares(
                fun,
                start + 1.0,
                jac=jac,
                bounds=(np.ones(d), 2 * np.ones(d)),
                method="trf",
                xtol=1e-3,
                ftol=1e-4,
                max_nfev=self.budget,
            )
        except _Stop as stop:
            return stop.reason
        return "least squares converged" if result.status > 0 else "max-evaluations"


def fit(
    loaded: LoadedScenario,
    settings: Settings,
    executor: Executor,
    folder: Folder,
    options: FitOptions,
) -> FitOutcome:
    """Fit the ``[fit]`` parameters of ``loaded`` to its targets (see the module's text)."""
    free = free_parameters(loaded)
    n = options.samples if options.samples is not None else default_samples(len(free))
    max_evaluations = options.max_evaluations
    quiet = Settings(settings.replications, settings.seed, settings.workers, None, None, False)

    def go(_: Path | None) -> FitOutcome:
        bar = tqdm(
            total=n + max_evaluations,
            desc=f"fit {loaded.scenario.name}",
            unit="evaluation",
            disable=not settings.progress,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
        )

        def tick(e: Evaluation) -> None:
            bar.update(1)
            bar.set_postfix_str(f"best cost {objective.best().cost:.3g}")

        objective = Fit(loaded, free, quiet, executor, n + max_evaluations, tick)
        try:
            rng = np.random.default_rng(settings.seed)
            design = qmc.LatinHypercube(len(free), rng=rng).random(n)
            objective.evaluate(list(design), "design")
            start = objective.best()
            if start.worst <= GOOD_ENOUGH:
                stopped = "good enough"
            else:
                unit = np.array([(start.point[v.path] - v.low) / (v.high - v.low) for v in free])
                stopped = objective.search(unit)
        finally:
            bar.close()
        best = objective.best()
        return FitOutcome(
            loaded.scenario.name,
            settings.seed,
            settings.replications,
            loaded.scale,
            loaded.volume_factor,
            free,
            objective.evaluations,
            best,
            target_rows(loaded, best.summary),
            stopped,
            samples=n,
            max_evaluations=max_evaluations,
        )

    def write(tmp: Path, outcome: FitOutcome, stamp: Stamp) -> None:
        write_fit_folder(tmp, loaded, outcome, stamp, executor)

    return conduct(go, write, folder, f"calibrate-{loaded.scenario.name}")


# ---------------------------------------------------------------- the results folder


def fitted_scenario(loaded: LoadedScenario, fitted: dict[str, float], folder: Path) -> str:
    """A scenario file extending ``loaded``'s with the fitted values (and its overrides)."""
    data: dict[str, Any] = {
        "extends": os.path.relpath(loaded.path.resolve(), folder.resolve()),
        "name": f"{loaded.scenario.name}-fitted",
    }
    for path, value in point_overrides_dict(loaded.overrides, fitted).items():
        node = data
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    head = (
        f"# {loaded.scenario.name} with the values chakong calibrate --fit found\n"
        f"# (see fit.json beside this file).\n"
    )
    return head + tomli_w.dumps(data)


def point_overrides_dict(overrides: Sequence[str], fitted: dict[str, float]) -> dict[str, Any]:
    """The run's ``--set`` overrides, then the fitted values, as path -> value."""
    from sim.scenario.loader import parse_override

    values: dict[str, Any] = {}
    for text in overrides:
        path, value = parse_override(text)
        values[".".join(str(p) for p in path)] = value
    values.update(fitted)
    return values


def write_fit_folder(
    folder: Path, loaded: LoadedScenario, outcome: FitOutcome, stamp: Stamp, executor: Executor
) -> None:
    write_json(folder / "fit.json", outcome.to_json())
    names = [v.path for v in outcome.free]
    metrics = [r["metric"] for r in outcome.rows]
    with (folder / "evaluations.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["evaluation", "stage", *names, "cost", *metrics])
        for e in outcome.evaluations:
            w.writerow(
                [
                    e.index,
                    e.stage,
                    *(csv_number(e.point[p]) for p in names),
                    csv_number(e.cost),
                    *(csv_number(e.summary[m].mean) for m in metrics),
                ]
            )
    (folder / "fitted.set").write_text("\n".join(outcome.set_lines()) + "\n", encoding="utf-8")
    (folder / "fitted.toml").write_text(
        fitted_scenario(loaded, outcome.fitted, folder), encoding="utf-8"
    )
    write_json(
        folder / "manifest.json",
        manifest(
            loaded,
            seed=outcome.seed,
            replications=outcome.replications,
            workers=executor.parallelism,
            extra={
                "kind": "fit",
                "executor": executor.describe(),
                "evaluations": len(outcome.evaluations),
                "stopped_by": outcome.stopped_by,
            },
            started=stamp.started,
            wall_seconds=stamp.wall_seconds,
        ),
    )


# ---------------------------------------------------------------- the text


def format_fit(outcome: FitOutcome) -> str:
    scale = f", scale {outcome.scale:g}" if outcome.scale != 1 else ""
    params = [("parameter", "low", "high", "fitted")]
    for v in outcome.free:
        params.append((v.path, f"{v.low:g}", f"{v.high:g}", f"{outcome.fitted[v.path]:.4g}"))
    best = outcome.best
    lines = [
        f"{outcome.scenario}: fit of {len(outcome.free)} parameters to "
        f"{sum(r['role'] == 'target' for r in outcome.rows)} targets, "
        f"{outcome.replications} replications a point, seed {outcome.seed}{scale}",
        f"{len(outcome.evaluations)} evaluations ({outcome.samples} in the design); stopped: "
        f"{outcome.stopped_by}; best: evaluation {best.index}, cost {best.cost:.3g}",
        "",
        *text_table(params, "<>>>"),
        "",
        *rows_table(outcome.rows),
        "",
        *sources(outcome.rows, outcome.scale, outcome.volume_factor),
        "",
        "as --set lines:",
        *(f"  {line}" for line in outcome.set_lines()),
        "",
        "all targets met" if outcome.passed else "some targets missed",
    ]
    return "\n".join(lines)
