"""Holding the model against queueing theory: run a validation scenario, compare its metric
with the closed form named in its header (see :mod:`sim.study.theory`)."""

from __future__ import annotations

import math
from typing import Any

from sim.scenario.loader import LoadedScenario
from sim.study.run import run
from sim.study.settings import Settings
from sim.study.skeleton import NO_FOLDER
from sim.study.theory import TheoryCheck


def verify(loaded: LoadedScenario, check: TheoryCheck, settings: Settings) -> dict[str, Any]:
    """The comparison as a JSON-ready dict (``inside_ci95`` says whether it passed)."""
    expected, params = check.expected(loaded.resolved())
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
        "seed": settings.seed,
        "expected": expected,
        "mean": s.mean,
        "ci95": [lo, hi],
        "relative_error": (s.mean - expected) / expected if expected else math.nan,
        "inside_ci95": bool(lo <= expected <= hi),
    }
