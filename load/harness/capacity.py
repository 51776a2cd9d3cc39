"""``--find-capacity``: step the rate up until a check fails; the highest rate that passed.

Each step is a whole run (priming, the shape's warm-up, the window, every check) at one
flat rate, in ``step-N/`` of the results folder, against the same target. The rate starts
at the run's target and grows by ``factor`` each step; the first step whose checks fail
ends the search (or ``max_steps``). The answer is the highest rate whose every check
passed, set beside the scenario's peak (the simulated peak minute when the demand has it,
else the peak hour): "this deployment carries N x the scenario's peak".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def scenario_peak(demand: dict[str, Any]) -> tuple[float | None, str]:
    """The scenario's peak request rate (full volume, requests/s) and what it is."""
    total = demand.get("total", {})
    minute = (total.get("peak_minute_per_second") or {}).get("mean")
    if minute:
        return minute, "peak minute"
    hour = (total.get("peak_per_second") or {}).get("mean")
    return (hour or None), "peak hour (the demand has no peak minute)"


def find_capacity(
    run_one: Callable[[float, Path], dict[str, Any]],
    start_rate: float,
    factor: float,
    max_steps: int,
    folder: Path,
    demand: dict[str, Any],
    report: Callable[[str], None],
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    rate = start_rate
    for i in range(max_steps):
        step_dir = folder / f"step-{i + 1}"
        step_dir.mkdir()
        s = run_one(rate, step_dir)
        failed = [c["check"] for c in s["slo"]["checks"] if not c["passed"]]
        steps.append(
            {
                "step": i + 1,
                "rate": round(rate, 3),
                "achieved_rate": s["achieved_rate"],
                "corrected_p99_ms": s["corrected_latency_ms"]["p99"],
                "error_rate": s["errors"]["rate"],
                "passed": not failed,
                "failed": failed,
                "generator_healthy": s["generator"]["healthy"],
                "folder": step_dir.name,
            }
        )
        report(
            f"step {i + 1}: {rate:,.1f} req/s: achieved {s['achieved_rate']:,.1f}, corrected "
            f"p99 {s['corrected_latency_ms']['p99']} ms, "
            + ("passed" if not failed else f"FAILED ({', '.join(failed)})")
        )
        if failed:
            break
        rate *= factor
    passed = [s for s in steps if s["passed"]]
    best = max((s["rate"] for s in passed), default=None)
    peak, peak_kind = scenario_peak(demand)
    times = round(best / peak, 1) if best and peak else None
    if best is None:
        verdict = (
            f"no rate passed: the first step ({start_rate:,.1f} req/s) failed; try a lower --rate"
        )
    elif len(passed) == len(steps):
        verdict = (
            f"every step passed up to {best:,.1f} req/s ({max_steps} steps): the "
            "capacity is higher; raise --rate or --max-steps"
        )
    else:
        verdict = f"highest sustained rate that passed: {best:,.1f} req/s"
    if times is not None:
        verdict += (
            f"; this deployment carries {times:g}x the scenario's {peak_kind} ({peak:.5g} req/s)"
        )
    return {
        "capacity_rate": best,
        "scenario_peak_rate": peak,
        "scenario_peak": peak_kind,
        "times_peak": times,
        "factor": factor,
        "steps": steps,
        "verdict": verdict,
        "passed": best is not None,
    }
