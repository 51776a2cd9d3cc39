"""The summary of a load run: worker reports merged, SLOs checked, generator health judged.

Worker reports (``worker-N.json``) carry encoded HDR histograms and counts; histograms are
added (:mod:`load.generator.histograms`), so every percentile is over all requests of all workers.
Beside each measured figure stands what the simulation predicted for the same scenario
(the mix of request kinds and their rates, scaled to the target).

Three things can fail a run (exit 1), each said apart:

- an **SLO** of the scenario's ``[load.slo]`` (latency p99 by request name, corrected for
  coordinated omission; error rate; achieved rate against the offered rate: the requests
  completed per second over the Poisson arrivals drawn at the target rate, so a short run
  does not fail on the draw's own noise, about ±4% at 600 arrivals);
- a **violation**: the API answered something it must not (an over-cap deduction accepted,
  an idempotent replay answered differently, reconcile or audit verify not ok);
- an **unhealthy generator**: the generator's own send lag p99 over its bound, or arrivals
  dropped. Then the measurement cannot be trusted, and the summary says the generator, not
  the server, fell behind.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from load.generator.histograms import ALL, merge, percentiles_ms
from load.generator.plan_file import POLLS, Plan
from sim.scenario.load_settings import Slo


def read_reports(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("worker-*.json"))]


def _sum(reports: Sequence[dict[str, Any]], key: str) -> Counter:
    total: Counter = Counter()
    for r in reports:
        total.update(r.get(key) or {})
    return total


def summarize(
    plan: Plan,
    reports: Sequence[dict[str, Any]],
    slo: Slo,
    post_run: dict[str, Any],
) -> dict[str, Any]:
    """The ``summary.json`` object (also printed by ``chakong load --json``)."""
    duration = plan.duration_s
    count = {k: sum(r[k] for r in reports) for k in ("arrivals", "dropped", "completed",
                                                      "unfinished")}  # fmt: skip
    hist = [r["histograms"] for r in reports]
    names = sorted({n for h in hist for n in h["latency"]} - {ALL})
    latency = merge(h["latency"].get(ALL) for h in hist if ALL in h["latency"])
    corrected = merge(h["corrected"].get(ALL) for h in hist if ALL in h["corrected"])
    send_lag = merge(h["send_lag"] for h in hist)
    queue_wait = merge(h["queue_wait"] for h in hist)
    by_name = {}
    for name in names:
        lat = merge(h["latency"][name] for h in hist if name in h["latency"])
        cor = merge(h["corrected"][name] for h in hist if name in h["corrected"])
        by_name[name] = {
            "count": lat.get_total_count(),
            "latency_ms": percentiles_ms(lat),
            "corrected_latency_ms": percentiles_ms(cor),
        }
    errors = _sum(reports, "errors")
    n_errors = sum(errors.values())
    answered = count["completed"] + count["unfinished"]
    violations = _sum(reports, "violations")
    for check, result in post_run.items():
        if not result.get("ok"):
            violations[f"{check}_not_ok"] += 1
    target = plan.offered_mean_rate
    achieved = count["completed"] / duration
    summary: dict[str, Any] = {
        "target_rate": round(target, 3),
        "achieved_rate": round(achieved, 3),
        "offered_rate": round(count["arrivals"] / duration, 3),
        "dropped": count["dropped"],
        "latency_ms": percentiles_ms(latency),
        "corrected_latency_ms": percentiles_ms(corrected),
        "send_lag_ms": percentiles_ms(send_lag, ("p50", "p99"))
        | {"max": send_lag.get_max_value() / 1000.0 if send_lag.get_total_count() else None},
        "queue_wait_ms": percentiles_ms(queue_wait, ("p50", "p99")),
        "errors": {
            "count": n_errors + count["unfinished"],
            "rate": (n_errors + count["unfinished"]) / answered if answered else 0.0,
            "unfinished": count["unfinished"],
            "by_kind": dict(errors.most_common()),
        },
        "refusals": dict(_sum(reports, "refusals").most_common()),
        "violations": {
            "count": sum(violations.values()),
            "by_kind": dict(violations),
            "checks": dict(_sum(reports, "checks")),
            "post_run": post_run,
        },
        "requests": {"arrivals": count["arrivals"], "completed": count["completed"]},
        "by_name": by_name,
        "mix": mix_table(plan, reports),
        "run": {
            "workers": plan.workers,
            "duration_s": duration,
            "shape": plan.shape,
            "peak_target_rate": round(max(r for _, _, r in plan.segments), 3),
            "seed": plan.seed,
            "host": plan.host,
            "max_in_flight_per_worker": plan.max_in_flight,
            "workers_reported": len(reports),
            "complete": all(r.get("complete") for r in reports),
        },
    }
    summary["generator"] = generator_health(summary, slo, plan)
    summary["slo"] = check_slos(summary, slo)
    return summary


def mix_table(plan: Plan, reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per request kind: the simulation's share and rate beside the measured ones."""
    sent = _sum(reports, "sent")
    total = sum(sent.values())
    flows = total - sent[POLLS]  # the simulation predicts no polls: compare without them
    kinds = list(dict.fromkeys([*plan.predicted_mix, *plan.mix, *sent]))
    out = {}
    for kind in kinds:
        out[kind] = {
            "predicted_share": _r(plan.predicted_mix.get(kind)),
            "planned_share": _r(plan.mix.get(kind)),
            "measured_share": _r(sent[kind] / total) if total else None,
            "measured_share_without_polls": (
                _r(sent[kind] / flows) if flows and kind != POLLS else None
            ),
            "predicted_rate": _r(plan.predicted_rates.get(kind)),
            "measured_rate": _r(sent[kind] / plan.duration_s),
        }
    return out


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def generator_health(summary: dict[str, Any], slo: Slo, plan: Plan) -> dict[str, Any]:
    problems = []
    lag = summary["send_lag_ms"]["p99"]
    if lag is not None and lag > slo.send_lag_p99_max_ms:
        problems.append(
            f"the generator's own send lag p99 is {lag:.1f} ms (bound "
            f"{slo.send_lag_p99_max_ms:g} ms): it could not send on time"
        )
    if summary["dropped"] > slo.dropped_max:
        problems.append(
            f"{summary['dropped']} arrivals dropped: more than {plan.max_waiting} waited for "
            f"one of {plan.max_in_flight} connections per worker"
        )
    run = summary["run"]
    if run["workers_reported"] < plan.workers or not run["complete"]:
        problems.append(
            f"{run['workers_reported']} of {plan.workers} workers reported a complete run"
        )
    healthy = not problems
    message = (
        "generator healthy: it sent on time"
        if healthy
        else "UNHEALTHY GENERATOR: the load generator fell behind, so these figures do not "
        "measure the server: " + "; ".join(problems)
    )
    return {"healthy": healthy, "problems": problems, "message": message}


def check_slos(summary: dict[str, Any], slo: Slo) -> dict[str, Any]:
    checks = []

    def add(name: str, value: float | None, limit: float, ok: bool, kind: str = "slo") -> None:
        checks.append({"check": name, "kind": kind, "value": value, "limit": limit, "passed": ok})

    for name, bound in slo.p99_ms.items():
        entry = summary["by_name"].get(name)
        value = (
            summary["corrected_latency_ms"]["p99"]
            if name == ALL
            else (entry["corrected_latency_ms"]["p99"] if entry else None)
        )
        add(f"{name} corrected p99 ms", value, bound, value is not None and value < bound)
    rate = summary["errors"]["rate"]
    add("error rate", round(rate, 6), slo.error_rate_max, rate <= slo.error_rate_max)
    offered = summary["offered_rate"]
    share = summary["achieved_rate"] / offered if offered else 0.0
    add("achieved / offered rate", round(share, 4), slo.achieved_rate_min,
        share >= slo.achieved_rate_min)  # fmt: skip
    # the arrivals drawn must be a Poisson count at the target: within 4 standard deviations
    expected = summary["target_rate"] * summary["run"]["duration_s"]
    drawn = summary["requests"]["arrivals"]
    z = (drawn - expected) / math.sqrt(expected) if expected > 0 else 0.0
    add("arrivals drawn vs target (z)", round(z, 2), 4, abs(z) <= 4, "generator")
    v = summary["violations"]["count"]
    add("violations", v, 0, v == 0, "correctness")
    lag = summary["send_lag_ms"]["p99"]
    add("send lag p99 ms", lag, slo.send_lag_p99_max_ms,
        lag is not None and lag <= slo.send_lag_p99_max_ms, "generator")  # fmt: skip
    add("dropped arrivals", summary["dropped"], slo.dropped_max,
        summary["dropped"] <= slo.dropped_max, "generator")  # fmt: skip
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def format_summary(s: dict[str, Any]) -> str:
    """The readable summary ``chakong load`` prints without ``--json``."""

    def ms(d: dict[str, Any], key: str) -> str:
        v = d.get(key)
        return "-" if v is None else f"{v:,.1f}"

    run = s["run"]
    lines = [
        f"target {s['target_rate']:g} req/s ({run['shape']}), offered {s['offered_rate']:g}, "
        f"achieved {s['achieved_rate']:g} over {run['duration_s']:g} s with "
        f"{run['workers']} worker(s); dropped {s['dropped']}",
        "",
        f"{'request':<24}{'count':>8}{'p50':>9}{'p99':>9}{'p99.9':>9}"
        f"{'corr p50':>10}{'corr p99':>10}{'corr p99.9':>11}  (ms)",
    ]
    overall = {
        "count": s["requests"]["completed"],
        "latency_ms": s["latency_ms"],
        "corrected_latency_ms": s["corrected_latency_ms"],
    }
    rows = [*s["by_name"].items(), ("all", overall)]
    for name, e in rows:
        a, c = e["latency_ms"], e["corrected_latency_ms"]
        lines.append(
            f"{name:<24}{e['count']:>8}{ms(a, 'p50'):>9}{ms(a, 'p99'):>9}{ms(a, 'p999'):>9}"
            f"{ms(c, 'p50'):>10}{ms(c, 'p99'):>10}{ms(c, 'p999'):>11}"
        )
    lines += [
        "",
        f"send lag (generator) p50 {ms(s['send_lag_ms'], 'p50')} ms, p99 "
        f"{ms(s['send_lag_ms'], 'p99')} ms; queue wait p99 {ms(s['queue_wait_ms'], 'p99')} ms",
        f"errors {s['errors']['count']} ({100 * s['errors']['rate']:.3f}%), refusals "
        f"{sum(s['refusals'].values())}, violations {s['violations']['count']}",
        "",
        "request mix: the simulation's prediction beside the measurement (shares without polls,",
        "which the simulation does not predict; predicted rates: that mix at the target)",
        f"{'request kind':<28}{'predicted':>10}{'measured':>10}{'pred /s':>10}{'meas /s':>10}",
    ]
    for kind, m in s["mix"].items():
        p, q, r = m["predicted_share"], m["measured_share_without_polls"], m["predicted_rate"]
        lines.append(
            f"{kind:<28}{'-' if p is None else f'{100 * p:.1f}%':>10}"
            f"{'-' if q is None else f'{100 * q:.1f}%':>10}"
            f"{'-' if r is None else f'{r:.3f}':>10}{m['measured_rate']:>10.3f}"
        )
    lines.append("")
    for c in s["slo"]["checks"]:
        mark = "pass" if c["passed"] else "FAIL"
        lines.append(f"{mark}  [{c['kind']}] {c['check']}: {c['value']} (limit {c['limit']})")
    lines.append(s["generator"]["message"])
    lines.append("SLOs passed" if s["slo"]["passed"] else "FAILED: see the checks above")
    return "\n".join(lines)
