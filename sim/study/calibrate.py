"""Holding a scenario against published figures: its ``[[calibration]]`` targets.

``chakong calibrate --check FILE`` runs the scenario and prints, for every target, the
published value, the simulated mean with its 95% interval, the tolerance and whether the
mean lies within it; with ``--check`` it exits 1 when any target is missed. Volume targets
(cases a year) are scaled with ``--scale``.
"""

from __future__ import annotations

import math
from typing import Any

from sim.errors import UserError
from sim.results.metrics import HEADLINE_METRICS
from sim.results.tables import text_table
from sim.scenario.loader import LoadedScenario
from sim.study.run import run
from sim.study.settings import Settings
from sim.study.skeleton import NO_FOLDER


def calibrate(loaded: LoadedScenario, settings: Settings) -> dict[str, Any]:
    targets = loaded.scenario.calibration
    if not targets:
        raise UserError(f"{loaded.path}: no [[calibration]] targets in this scenario")
    unknown = [t.metric for t in targets if t.metric not in HEADLINE_METRICS]
    if unknown:
        raise UserError(
            f"{loaded.path}: calibration: unknown metric(s) {', '.join(unknown)} "
            f"(known: {', '.join(HEADLINE_METRICS)})"
        )
    with settings.executor() as executor:
        outcome = run(loaded, settings, executor, NO_FOLDER)
    rows = []
    for t in targets:
        s = outcome.summary[t.metric]
        target = t.target * (loaded.volume_factor if t.scales_with_volume else 1.0)
        tol = t.tolerance if t.tolerance is not None else (t.tolerance_rel or 0.0) * abs(target)
        ok = not math.isnan(s.mean) and abs(s.mean - target) <= tol
        rows.append(
            {
                "metric": t.metric,
                "target": target,
                "tolerance": tol,
                "mean": s.mean,
                "ci95": list(s.ci95),
                "n": s.n,
                "passed": bool(ok),
                "source": t.source,
            }
        )
    return {
        "scenario": loaded.scenario.name,
        "scale": loaded.scale,
        "volume_factor": loaded.volume_factor,
        "replications": settings.replications,
        "seed": settings.seed,
        "passed": all(r["passed"] for r in rows),
        "targets": rows,
    }


def _num(v: float) -> str:
    if v is None or math.isnan(v):
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def format_calibration(r: dict[str, Any]) -> str:
    head = ("metric", "target", "tolerance", "simulated", "95% interval", "result")
    rows = [head]
    for t in r["targets"]:
        lo, hi = t["ci95"]
        rows.append(
            (
                t["metric"],
                _num(t["target"]),
                "±" + _num(t["tolerance"]),
                _num(t["mean"]),
                f"[{_num(lo)}, {_num(hi)}]",
                "pass" if t["passed"] else "FAIL",
            )
        )
    scale = f", scale {r['scale']:g}" if r["scale"] != 1 else ""
    lines = [
        f"{r['scenario']}: calibration, {r['replications']} replications, seed {r['seed']}{scale}",
        "",
        *text_table(rows, "<>>>>>"),
        "",
    ]
    if r["scale"] != 1:
        lines.append(
            f"  volume targets are scaled by {r['volume_factor']:.4g}, the share of the "
            f"volume kept at --scale {r['scale']:g}"
        )
    for t in r["targets"]:
        if t["source"]:
            lines.append(f"  {t['metric']}: {t['source']}")
    lines.append("")
    lines.append("all targets met" if r["passed"] else "some targets missed")
    return "\n".join(lines)
