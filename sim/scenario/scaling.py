"""``--scale F``: run a fraction of the volume with resources scaled alike.

Each region keeps its officers per court and loses courts: ``courts * F`` courts, the same
officers per court, and the arrival rate (and initial state) scaled by the share of courts
kept, so every court sees the same load as at full scale and waits for officers are
unchanged. A region that would keep less than one court keeps one, with its caseload and
officers both scaled by F (its smaller pool of officers then queues a little
differently). Agencies keep their processing times with ``servers * F`` desks (at least
one). Rates (per case, per request) estimate the full-scale ones; volumes (cases a
year, queries a day) shrink by :attr:`Scaled.volume_factor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.errors import UserError

if TYPE_CHECKING:  # the schema (pydantic, the distributions) only for the types: the
    # command line asks scale_problem before it loads any scenario
    from sim.scenario.schema import Scenario


@dataclass(frozen=True)
class Scaled:
    scenario: Scenario
    scale: float  # the fraction asked for
    volume_factor: float  # the fraction of filings actually kept (courts are whole)


def scale_problem(scale: float) -> str | None:
    """What is wrong with a scale (a fraction of the volume), or None."""
    if not 0 < scale <= 1:
        return f"must be in (0, 1], got {scale:g}"
    return None


def scale_scenario(scenario: Scenario, scale: float) -> Scaled:
    problem = scale_problem(scale)
    if problem:
        raise UserError(f"--scale: {problem}")
    if scale == 1:
        return Scaled(scenario, 1.0, 1.0)
    regions = {}
    full = kept = 0.0
    for name, r in scenario.regions.items():
        courts = round(r.courts * scale)
        if courts >= 1:
            k = courts / r.courts
        else:
            courts, k = 1, scale
        officers = max(courts, round(r.officers * k))
        regions[name] = r.model_copy(
            update={
                "courts": courts,
                "officers": officers,
                "arrival_rate_per_day": r.arrival_rate_per_day * k,
                "initial_pending_cases": round(r.initial_pending_cases * k),
                "initial_terminated_pool": round(r.initial_terminated_pool * k),
            }
        )
        full += r.arrival_rate_per_day
        kept += r.arrival_rate_per_day * k
    agencies = {
        name: a.model_copy(update={"servers": max(1, round(a.servers * scale))})
        for name, a in scenario.agencies.items()
    }
    scaled = scenario.model_copy(update={"regions": regions, "agencies": agencies})
    return Scaled(scaled, scale, kept / full if full else scale)
