"""A study's settings, resolved in one place for the command line and the Python API.

``chakong run --replications 5 --seed 7`` and ``sim.simulate(loaded, replications=5,
seed=7)`` both come here, so they take the same defaults (the scenario's ``[run]`` table)
and refuse the same things with the same words:

- ``replications``: at least 2 (an interval needs two); default the scenario's, or, with a
  precision target, where the replication algorithm starts (3);
- ``seed``: a whole number, not negative; default the scenario's;
- ``workers``: at least 1; default all cores here (the Python API passes 1);
- ``scale``: in (0, 1]; default the scenario's;
- ``precision``: in (0, 1); ``max_replications`` (default 100, or the initial number if
  larger) and ``precision_metrics`` only with it (see :mod:`sim.study.precision`);
- ``dask``: a scheduler address, instead of local processes;
- ``split``: at least 1 (default 1): each replication's regions run in that many parts at
  once (:mod:`sim.engine.split`), the replications one after another; the same results.

The single-value rules (``*_problem``) are also what the command line's argument types
check, so a bad flag is refused by argparse with the same sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim.engine.executors import Executor, make_executor
from sim.engine.runner import default_workers
from sim.errors import UserError
from sim.scenario.loader import LoadedScenario
from sim.scenario.scaling import scale_problem
from sim.scenario.schema import RunDefaults
from sim.study.limits import (
    DEFAULT_CAP,
    DEFAULT_MAX_EVALUATIONS,
    DEMAND_REPLICATIONS,
    INITIAL_REPLICATIONS,
    MIN_REPLICATIONS,
    MIN_SAMPLES,
    at_least_problem,
    target_problem,
)
from sim.study.precision import PrecisionRule, Sequential

__all__ = [
    "DEFAULT_MAX_EVALUATIONS",
    "DEMAND_REPLICATIONS",
    "MIN_REPLICATIONS",
    "MIN_SAMPLES",
    "FitOptions",
    "Settings",
    "at_least_problem",
    "fit_options",
    "resolve",
    "resolve_given",
    "scale_problem",
    "scaled",
    "target_problem",
]


def _check(flag: str, problem: str | None) -> None:
    if problem:
        raise UserError(f"{flag}: {problem}")


@dataclass(frozen=True)
class Settings:
    """How a study runs: how many replications, with which seed, where."""

    replications: int  # or, with a precision rule, where the algorithm starts
    seed: int
    workers: int
    precision: PrecisionRule | None = None
    dask: str | None = None
    progress: bool = True
    split: int = 1

    def executor(self) -> Executor:
        """Local processes, or the Dask cluster (use as a context manager)."""
        return make_executor(self.workers, self.dask, self.progress, self.split)

    def stopping(self) -> Sequential | None:
        """The replication algorithm's state for one group run (None: a fixed number)."""
        return Sequential(self.precision) if self.precision is not None else None


def resolve(
    defaults: RunDefaults,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    precision: float | None = None,
    max_replications: int | None = None,
    precision_metrics: Sequence[str] = (),
    dask: str | None = None,
    progress: bool = True,
    split: int | None = None,
    default_replications: int | None = None,
    min_replications: int = MIN_REPLICATIONS,
) -> Settings:
    """The settings of a study from what was given (None: the default). ``defaults`` is
    the scenario's ``[run]`` table (the base scenario's, for several);
    ``default_replications`` and ``min_replications`` let a study that is not about
    intervals (the demand) keep its own."""
    if precision is None:
        if max_replications is not None:
            raise UserError("--max-replications: only with --precision")
        if precision_metrics:
            raise UserError("--precision-metric: only with --precision")
    else:
        _check("--precision", target_problem(precision))
    if replications is None:
        if precision is not None:
            replications = INITIAL_REPLICATIONS
        elif default_replications is not None:
            replications = default_replications
        else:
            replications = defaults.replications
    if replications < min_replications:
        if min_replications == MIN_REPLICATIONS:
            raise UserError("--replications: at least 2 are needed for a confidence interval")
        _check("--replications", at_least_problem(replications, min_replications))
    if seed is not None:
        _check("--seed", at_least_problem(seed, 0))
    if workers is not None:
        _check("--workers", at_least_problem(workers, 1))
    if max_replications is not None:
        _check("--max-replications", at_least_problem(max_replications, 1))
    if split is not None:
        _check("--split", at_least_problem(split, 1))
    rule = None
    if precision is not None:
        cap = max_replications or max(DEFAULT_CAP, replications)
        rule = PrecisionRule(precision, cap, replications, metrics=tuple(precision_metrics))
    return Settings(
        replications=replications,
        seed=defaults.seed if seed is None else seed,
        workers=workers or default_workers(),
        precision=rule,
        dask=dask,
        progress=progress,
        split=split or 1,
    )


SETTINGS = (
    "replications",
    "seed",
    "workers",
    "precision",
    "max_replications",
    "precision_metrics",
    "dask",
    "progress",
    "split",
)
"""The names :func:`resolve` takes: the command's flags and the Python API's keywords."""


def resolve_given(defaults: RunDefaults, given: Mapping[str, Any], **study: Any) -> Settings:
    """:func:`resolve` with the settings named in ``given`` (a command's parsed flags, or
    the Python API's keyword arguments); those absent or None take their defaults."""
    named = {k: given[k] for k in SETTINGS if given.get(k) is not None}
    return resolve(defaults, **named, **study)


def scaled(loaded: LoadedScenario, scale: float | None) -> LoadedScenario:
    """The scenario at ``scale`` of its volume (None: its ``[run] scale``), resources
    scaled alike."""
    if scale is not None:
        _check("--scale", scale_problem(scale))
    return loaded.scaled(loaded.scenario.run.scale if scale is None else scale)


@dataclass(frozen=True)
class FitOptions:
    """How ``chakong calibrate --fit`` searches (:mod:`sim.study.fit`)."""

    samples: int | None = None  # the design's points (None: 2 x parameters + 2)
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS  # for the local search


def fit_options(samples: int | None = None, max_evaluations: int | None = None) -> FitOptions:
    """A fit's options from what was given (None: the default), refused as the flags are:
    ``samples`` at least 2, ``max_evaluations`` at least 1."""
    if samples is not None:
        _check("--samples", at_least_problem(samples, MIN_SAMPLES))
    if max_evaluations is not None:
        _check("--max-evaluations", at_least_problem(max_evaluations, 1))
    return FitOptions(
        samples, DEFAULT_MAX_EVALUATIONS if max_evaluations is None else max_evaluations
    )
