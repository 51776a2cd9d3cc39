"""Load shapes: the target rate over a run, as constant-rate segments ``(start s, end s, rate)``.

The open clock (:mod:`load.generator.open_clock`) restarts its Poisson process at each
segment's start, which is exact for a memoryless process, so a shape is just a list of
segments. The warm-up is the first ``warmup_seconds`` of the run whatever the shape: load
is offered then as the shape says, and the verdict leaves it out.

- ``flat``: the target throughout; ``soak`` the same, meant for long runs (its time series
  shows drift);
- ``daily``: the simulated 24-hour profile of the scenario's requests on a working day
  (court time: office hours, the peak hour) compressed into the run, 24 equal segments,
  the peak hour at the target;
- ``ramp``: from ``ramp_from`` of the target up to it, in one-second (or finer) steps;
- ``step``: ``steps`` equal steps up to the target, each an equal share of the run;
- ``spike``: the target, and ``spike_multiplier`` times it for ``spike_seconds`` from
  ``spike_at`` of the run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sim.errors import UserError

if TYPE_CHECKING:  # chakong load declares --shape from SHAPES before any settings exist
    from sim.scenario.load_settings import LoadSettings

Segment = tuple[float, float, float]
SHAPES = ("flat", "daily", "ramp", "step", "spike", "soak")
RAMP_SEGMENTS_MAX = 120


def segments_for(
    shape: str, rate: float, duration: float, settings: LoadSettings, demand: dict[str, Any]
) -> list[Segment]:
    """The segments of ``shape`` at target ``rate`` over ``duration`` seconds."""
    if shape in ("flat", "soak"):
        return [(0.0, duration, rate)]
    if shape == "daily":
        profile = demand["total"]["by_hour_per_second"]
        peak = max(profile)
        if peak <= 0:
            return [(0.0, duration, rate)]
        step = duration / 24
        return [(h * step, (h + 1) * step, rate * profile[h] / peak) for h in range(24)]
    if shape == "ramp":
        n = max(1, min(RAMP_SEGMENTS_MAX, math.ceil(duration)))
        width = duration / n
        low = settings.ramp_from * rate
        return [(i * width, (i + 1) * width, low + (rate - low) * (i + 0.5) / n) for i in range(n)]
    if shape == "step":
        n = settings.steps
        width = duration / n
        return [(i * width, (i + 1) * width, rate * (i + 1) / n) for i in range(n)]
    if shape == "spike":
        start = settings.spike_at * duration
        end = min(duration, start + settings.spike_seconds)
        peak = rate * settings.spike_multiplier
        out = [(0.0, start, rate), (start, end, peak), (end, duration, rate)]
        return [s for s in out if s[1] > s[0]]
    raise UserError(f"--shape: unknown shape '{shape}' (one of {', '.join(SHAPES)})")


def describe(shape: str, settings: LoadSettings, warmup: float) -> dict[str, Any]:
    """The shape's parameters, for the plan, the summary and the report."""
    out: dict[str, Any] = {"kind": shape, "warmup_s": warmup}
    if shape == "ramp":
        out["ramp_from"] = settings.ramp_from
    elif shape == "step":
        out["steps"] = settings.steps
    elif shape == "spike":
        out |= {
            "multiplier": settings.spike_multiplier,
            "at": settings.spike_at,
            "seconds": settings.spike_seconds,
        }
    return out


def check_warmup(warmup: float, duration: float) -> None:
    if warmup >= duration:
        raise UserError(f"--warmup: {warmup:g} s leaves nothing of the {duration:g} s run to judge")
