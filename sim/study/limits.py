"""The defaults and single-value rules every study shares, in a module that imports
nothing heavy.

The command line declares its options with these (argument types, help texts) before it
knows which command will run, so this module must not import the engine, numpy or scipy:
:mod:`sim.study.settings` and :mod:`sim.study.precision` import their rules from here, and
``chakong --help`` reads them without loading either.
"""

from __future__ import annotations

MIN_REPLICATIONS = 2
"""A confidence interval needs two replications."""
DEMAND_REPLICATIONS = 2  # the demand is a sizing figure: two replications give it an interval

MIN_SAMPLES = 2
"""A fit's design needs two points to choose between."""

DEFAULT_MAX_EVALUATIONS = 40
"""How many evaluations a fit's local search may spend, by default."""

INITIAL_REPLICATIONS = 3
"""Where the precision algorithm starts when no number of replications is given (Hoad et
al.: 3)."""

DEFAULT_CAP = 100
"""The cap on replications under a precision target when none is given (or the initial
number, if larger)."""

RATE_FLOOR = 0.01
"""Rates below 1% are judged on an absolute half-width of ``target`` x 1 percentage point
(:mod:`sim.study.precision`; the comparison's report shows no % change for them)."""


def at_least_problem(value: int, minimum: int) -> str | None:
    """What is wrong with a whole number that must be at least ``minimum``, or None."""
    if value < minimum:
        if minimum == 0:
            return f"must not be negative, got {value}"
        return f"must be at least {minimum}, got {value}"
    return None


def target_problem(target: float) -> str | None:
    """What is wrong with a precision target (a relative half-width), or None."""
    if not 0 < target < 1:
        return f"must be between 0 and 1 (0.02 is 2%), got {target:g}"
    return None
