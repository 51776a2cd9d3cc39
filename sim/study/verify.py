"""Holding the model against queueing theory: run a validation scenario, compare its metric
with the closed form named in its header (see :mod:`sim.study.theory`)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from sim.scenario.loader import LoadedScenario
from sim.study.run import run
from sim.study.settings import Settings
from sim.study.skeleton import NO_FOLDER
from sim.study.theory import MMc, TheoryCheck, run_length


def _long_enough(
    loaded: LoadedScenario, params: dict[str, Any], replications: int, precision: float
) -> LoadedScenario:
    q = MMc(params["lambda"], params["servers"], params["service_mean_days"])
    if q.utilization >= 1:
        return loaded  # no steady state: the comparison will say so
    warmup, length = run_length(q, replications, precision)
    s = loaded.scenario
    warmup = math.ceil(max(s.warmup_days, warmup))
    horizon = math.ceil(max(s.horizon_days - s.warmup_days, length)) + warmup
    if (warmup, horizon) == (s.warmup_days, s.horizon_days):
        return loaded
    longer = s.model_copy(update={"warmup_days": warmup, "horizon_days": horizon})
    changes = (f"warmup_days={warmup}", f"horizon_days={horizon}")
    return dataclasses.replace(loaded, scenario=longer, overrides=(*loaded.overrides, *changes))


def verify(
    loaded: LoadedScenario, check: TheoryCheck, settings: Settings, precision: float = 0.05
) -> dict[str, Any]:
    """The comparison as a JSON-ready dict (``inside_ci95`` says whether it passed).

    For an Erlang C check the run is made long enough for the load (see
    :func:`sim.study.theory.run_length`, for ``precision``): a scenario whose warm-up or
    run is shorter is lengthened, never shortened."""
    expected, params = check.expected(loaded.resolved())
    if check.kind == "erlang-c":
        loaded = _long_enough(loaded, params, settings.replications, precision)
    with settings.executor() as executor:
        outcome = run(loaded, settings, executor, NO_FOLDER)
    s = outcome.summary[check.metric]
    lo, hi = s.ci95
    return {
        "scenario": loaded.scenario.name,
        "check": check.kind,
        "metric": check.metric,
        "parameters": params,
        "replications": settings.replications,
        "warmup_days": loaded.scenario.warmup_days,
        "horizon_days": loaded.scenario.horizon_days,
        "seed": settings.seed,
        "expected": expected,
        "mean": s.mean,
        "ci95": [lo, hi],
        "relative_error": (s.mean - expected) / expected if expected else math.nan,
        "inside_ci95": bool(lo <= expected <= hi),
    }
