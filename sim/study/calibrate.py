"""Holding a scenario against published figures: its ``[[calibration]]`` targets and checks.

``chakong calibrate --check FILE`` runs the scenario and prints, for every published figure,
the value, the simulated mean with its 95% interval, the tolerance and whether the mean
lies within it; with ``--check`` it exits 1 when any *target* is missed. A figure with
``role = "check"`` is shown the same way but never fitted (:mod:`sim.study.fit`) and never
decides the exit status: it says how far the model is from what it was not fitted to.
Volume targets (cases a year) are scaled with ``--scale``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sim.errors import UserError
from sim.results.metrics import HEADLINE_METRICS
from sim.results.statistics import Summary
from sim.results.tables import text_table
from sim.scenario.loader import LoadedScenario
from sim.scenario.stages import CalibrationTarget
from sim.study.run import run
from sim.study.settings import Settings
from sim.study.skeleton import NO_FOLDER


def check_targets(loaded: LoadedScenario) -> None:
    """Refuse a scenario with no targets, or with targets naming unknown metrics."""
    targets = loaded.scenario.calibration
    if not any(t.role == "target" for t in targets):
        raise UserError(f"{loaded.path}: no [[calibration]] targets in this scenario")
    unknown = [t.metric for t in targets if t.metric not in HEADLINE_METRICS]
    if unknown:
        raise UserError(
            f"{loaded.path}: calibration: unknown metric(s) {', '.join(unknown)} "
            f"(known: {', '.join(HEADLINE_METRICS)})"
        )


def aim(loaded: LoadedScenario, t: CalibrationTarget) -> tuple[float, float]:
    """A figure's value at the scenario's scale (volumes scaled), and its tolerance."""
    target = t.target * (loaded.volume_factor if t.scales_with_volume else 1.0)
    tol = t.tolerance if t.tolerance is not None else (t.tolerance_rel or 0.0) * abs(target)
    return target, tol


def target_rows(loaded: LoadedScenario, summary: Mapping[str, Summary]) -> list[dict[str, Any]]:
    """Every published figure beside the simulated mean: targets first, then checks."""
    rows = []
    for t in sorted(loaded.scenario.calibration, key=lambda t: t.role != "target"):
        s = summary[t.metric]
        target, tol = aim(loaded, t)
        ok = not math.isnan(s.mean) and abs(s.mean - target) <= tol
        rows.append(
            {
                "metric": t.metric,
                "role": t.role,
                "target": target,
                "tolerance": tol,
                "mean": s.mean,
                "ci95": list(s.ci95),
                "n": s.n,
                "passed": bool(ok),
                "source": t.source,
            }
        )
    return rows


def calibrate(loaded: LoadedScenario, settings: Settings) -> dict[str, Any]:
    check_targets(loaded)
    with settings.executor() as executor:
        outcome = run(loaded, settings, executor, NO_FOLDER)
    rows = target_rows(loaded, outcome.summary)
    return {
        "scenario": loaded.scenario.name,
        "scale": loaded.scale,
        "volume_factor": loaded.volume_factor,
        "replications": settings.replications,
        "seed": settings.seed,
        "passed": all(r["passed"] for r in rows if r["role"] == "target"),
        "targets": rows,
    }


def _num(v: float) -> str:
    if v is None or math.isnan(v):
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _verdict(row: Mapping[str, Any]) -> str:
    if row["role"] == "check":
        return "check: within" if row["passed"] else "check: off"
    return "pass" if row["passed"] else "FAIL"


def rows_table(rows: list[dict[str, Any]]) -> list[str]:
    """The table of published figures beside the model (``calibrate`` and ``--fit``)."""
    head = ("metric", "published", "tolerance", "simulated", "95% interval", "result")
    table = [head]
    for t in rows:
        lo, hi = t["ci95"]
        table.append(
            (
                t["metric"],
                _num(t["target"]),
                "±" + _num(t["tolerance"]),
                _num(t["mean"]),
                f"[{_num(lo)}, {_num(hi)}]",
                _verdict(t),
            )
        )
    return text_table(table, "<>>>><")


def sources(rows: list[dict[str, Any]], scale: float, volume_factor: float) -> list[str]:
    """What the table's notes say: the volume scaling and each figure's source."""
    lines = []
    if scale != 1:
        lines.append(
            f"  volume targets are scaled by {volume_factor:.4g}, the share of the "
            f"volume kept at --scale {scale:g}"
        )
    for t in rows:
        if t["source"]:
            lines.append(f"  {t['metric']}: {t['source']}")
    return lines


def format_calibration(r: dict[str, Any]) -> str:
    scale = f", scale {r['scale']:g}" if r["scale"] != 1 else ""
    lines = [
        f"{r['scenario']}: calibration, {r['replications']} replications, seed {r['seed']}{scale}",
        "",
        *rows_table(r["targets"]),
        "",
        *sources(r["targets"], r["scale"], r["volume_factor"]),
        "",
    ]
    if any(t["role"] == "check" for t in r["targets"]):
        lines.append("checks are published figures the scenario was not fitted to; they never fail")
    lines.append("all targets met" if r["passed"] else "some targets missed")
    return "\n".join(lines)
