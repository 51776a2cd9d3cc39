"""The summary of a load run: worker reports merged, checks judged, generator health weighed.

Worker reports (``worker-N.json``) carry encoded HDR histograms, counts and a time series;
histograms are added (:mod:`load.generator.histograms`), so every percentile is over all
requests of all workers. Beside each measured figure stands what the simulation predicted
(the mix of logical requests and their rates at the target). The warm-up is left out of
every figure the verdict reads (it stays in the time series, marked).

What can fail a run (exit 1), each said apart:

- a **threshold** (:mod:`load.harness.thresholds`: the scenario's ``[load.slo]`` and
  ``--threshold``), the **achieved rate** (successful requests answered inside the window,
  against the arrivals offered: 100% errors or a stall fail it), or the **mix** (each
  logical request's share of what was sent within ``mix_tolerance`` of the plan, judged
  once the run sent enough requests for the tolerance to exceed three standard deviations
  of a share's sampling noise);
- a **violation**: the API answered something it must not (an over-cap deduction accepted,
  an idempotent replay answered differently, reconcile or audit verify not ok); checks
  the adapter does not declare are listed as skipped;
- an **unhealthy generator**: arrivals dropped, a worker missing, or the generator's own
  send lag beyond its bound *and* large against the latency it measured (a lag of 12 ms
  beside a server's 300 ms is 4% of it: said, not fatal).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from load.generator.histograms import ALL, merge, percentiles_ms
from load.generator.plan_file import Plan
from load.harness import thresholds as th
from sim.scenario.load_settings import Slo

LAG_SHARE_MAX = 0.1  # send lag p99 beyond its bound is harmless below this share of latency
STALL_FACTOR = 5.0  # an interval whose corrected p99 is this many times the run's median
FEW = 5.0  # a threshold on a request the plan expected fewer of than this, none sent: not judged


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
    thresholds: Sequence[th.Threshold] = (),
    skipped: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``summary.json`` object (also printed by ``chakong load --json``)."""
    window = plan.duration_s - plan.warmup_s
    count = {
        k: sum(r.get(k, 0) for r in reports)
        for k in ("arrivals", "dropped", "completed", "unfinished", "achieved", "warmup_arrivals")
    }
    hist = [r["histograms"] for r in reports]
    names = sorted({n for h in hist for n in h["latency"]} - {ALL})
    latency = merge(h["latency"].get(ALL) for h in hist if ALL in h["latency"])
    corrected = merge(h["corrected"].get(ALL) for h in hist if ALL in h["corrected"])
    send_lag = merge(h["send_lag"] for h in hist)
    queue_wait = merge(h["queue_wait"] for h in hist)
    errors = _sum(reports, "errors")
    errors_by_name = _sum(reports, "errors_by_name")
    achieved_by_name = _sum(reports, "achieved_by_name")
    answered_by_name = _sum(reports, "answered_by_name")
    adapter_names = {k: v.get("name") or k for k, v in plan.adapter["spec"]["requests"].items()}
    by_name = {}
    for name in names:
        lat = merge(h["latency"][name] for h in hist if name in h["latency"])
        cor = merge(h["corrected"][name] for h in hist if name in h["corrected"])
        tried = answered_by_name[name]
        by_name[name] = {
            "request": adapter_names.get(name, name),
            "count": lat.get_total_count(),
            "latency_ms": percentiles_ms(lat),
            "corrected_latency_ms": percentiles_ms(cor),
            "error_rate": round(errors_by_name[name] / tried, 6) if tried else 0.0,
            "achieved_rate": round(achieved_by_name[name] / window, 4),
        }
    n_errors = sum(errors.values()) + count["unfinished"]
    answered = count["completed"] + count["unfinished"]
    violations = _sum(reports, "violations")
    for check, result in post_run.items():
        if not result.get("ok"):
            violations[f"{check}_not_ok"] += 1
    achieved = count["achieved"] / window
    summary: dict[str, Any] = {
        "target_rate": round(plan.offered_mean_rate, 3),
        "offered_rate": round(count["arrivals"] / window, 3),
        "achieved_rate": round(achieved, 3),
        "dropped": count["dropped"],
        "latency_ms": percentiles_ms(latency),
        "corrected_latency_ms": percentiles_ms(corrected),
        "send_lag_ms": percentiles_ms(send_lag, ("p50", "p99", "max")),
        "queue_wait_ms": percentiles_ms(queue_wait, ("p50", "p99")),
        "errors": {
            "count": n_errors,
            "rate": n_errors / answered if answered else 0.0,
            "unfinished": count["unfinished"],
            "by_kind": dict(errors.most_common()),
        },
        "refusals": dict(_sum(reports, "refusals").most_common()),
        "violations": {
            "count": sum(violations.values()),
            "by_kind": dict(violations),
            "checks": dict(_sum(reports, "checks")),
            "post_run": post_run,
            "skipped": list(skipped),
        },
        "requests": {
            "arrivals": count["arrivals"],
            "completed": count["completed"],
            "achieved": count["achieved"],
            "warmup_arrivals": count["warmup_arrivals"],
        },
        "by_name": by_name,
        "mix": mix_table(plan, reports),
        "substituted": dict(_sum(reports, "substituted").most_common()),
        "controls": controls_summary(plan, reports),
        "prime": [r.get("prime") for r in reports],
        "time_series": time_series(plan, reports),
        "notes": list(plan.notes),
        "run": {
            "workers": plan.workers,
            "duration_s": plan.duration_s,
            "warmup_s": plan.warmup_s,
            "window_s": window,
            "shape": plan.shape,
            "peak_target_rate": round(max((r for _, _, r in plan.segments), default=0), 3),
            "seed": plan.seed,
            "host": plan.host,
            "adapter": plan.adapter["spec"]["name"],
            "run_id": plan.run_id,
            "max_in_flight_per_worker": plan.max_in_flight,
            "workers_reported": len(reports),
            "complete": all(r.get("complete") for r in reports),
            "aborted_at_s": min(
                (r["aborted_at_s"] for r in reports if r.get("aborted_at_s") is not None),
                default=None,
            ),
        },
    }
    summary["generator"] = generator_health(summary, slo, plan)
    summary["slo"] = check_all(summary, slo, thresholds)
    return summary


def controls_summary(plan: Plan, reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Controls as the flows followed them, over all workers (priming included): how many
    were acknowledged and accepted by an agency, how they ended, how many were seen
    ``unknown`` (counted apart: never as failed) and sent again, freezes that waited in line,
    what was still open at the end; and the check of every case's own list of its controls
    after the run."""
    counts = _sum(reports, "controls")
    ledgers = [r.get("ledger") or {} for r in reports]
    checked = any(g.get("checked") for g in ledgers)
    return {
        "mode": plan.api.get("controls"),
        "faults": plan.api.get("faults"),
        "polls": plan.polls,
        "counts": dict(sorted(counts.items())),
        "case_check": {
            "checked": checked,
            "cases": sum(g.get("cases", 0) for g in ledgers),
            "controls": sum(g.get("controls", 0) for g in ledgers),
            "cases_with_controls": sum(g.get("cases_with_controls", 0) for g in ledgers),
            "unread": sum(g.get("unread", 0) for g in ledgers),
            "violations": dict(_sum(ledgers, "violations")),
        },
    }


def controls_lines(c: dict[str, Any]) -> list[str]:
    """The controls' part of the readable summary."""
    if not c:
        return []
    n = Counter(c.get("counts") or {})
    faults = c.get("faults")
    how = {
        "scenario": "through the agencies, followed by polls",
        "instant": "decided at once",
    }.get(str(c.get("mode")), "as the adapter says")
    if faults:
        how += (
            f"; agency faults: late {faults['timeout_probability']:g}, lost "
            f"{faults['lost_reply_probability']:g}, twice {faults['duplicate_reply_probability']:g}"
        )
    text = (
        f"controls ({how}): {n['acknowledged']} acknowledged, {n['accepted']} with an agency; "
        f"done {n['done']}, failed {n['failed']}, refused {n['refused']}"
    )
    if faults or n["unknown_seen"]:
        text += (
            f"; unknown {n['unknown_seen']} (never counted as failed; sent again "
            f"{n['retried']}, then done {n['unknown_then_done']}, failed "
            f"{n['unknown_then_failed']})"
        )
    if n["waiting"]:
        text += f"; waited in line {n['waiting']} (took effect {n['waiting_took_effect']})"
    if n["resent"]:
        text += f"; sent again for want of an answer {n['resent']}"
    lines = [f"{text}; open at the end {n['open_at_end']}"]
    check = c.get("case_check") or {}
    if check.get("checked"):
        bad = check.get("violations") or {}
        verdict = (
            "; ".join(f"{k} {v}" for k, v in sorted(bad.items()))
            if bad
            else "every acknowledged control listed once, none more than were left "
            "unanswered, no final state changed, money recovered within what the "
            "deductions allow"
        )
        unread = f", {check['unread']} not read" if check.get("unread") else ""
        lines.append(
            f"case check after the run: {check['cases']} of {check['cases_with_controls']} "
            f"cases read ({check.get('controls', 0)} controls{unread}): {verdict}"
        )
    return lines


def figures(summary: dict[str, Any]) -> dict[str, Any]:
    """``by_name`` with ``all`` beside it: what thresholds read."""
    window = summary["run"]["window_s"]
    overall = {
        "count": summary["requests"]["completed"],
        "latency_ms": summary["latency_ms"],
        "corrected_latency_ms": summary["corrected_latency_ms"],
        "error_rate": summary["errors"]["rate"],
        "achieved_rate": round(summary["requests"]["achieved"] / window, 4) if window else 0.0,
    }
    return {**summary["by_name"], ALL: overall}


def mix_table(plan: Plan, reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per logical request: the simulation's share, the plan's, the measured one (of every
    request sent after the warm-up), and the rates."""
    sent = _sum(reports, "sent")
    total = sum(sent.values())
    window = plan.duration_s - plan.warmup_s
    out = {}
    for kind in dict.fromkeys([*plan.mix, *plan.predicted_mix, *sent]):
        planned = plan.mix.get(kind, 0.0)
        measured = sent[kind] / total if total else None
        out[kind] = {
            "predicted_share": _r(plan.predicted_mix.get(kind)),
            "planned_share": _r(planned),
            "measured_share": _r(measured),
            "difference": _r(None if measured is None else measured - planned),
            "predicted_rate": _r(plan.predicted_rates.get(kind)),
            "planned_rate": _r(planned * plan.offered_mean_rate),
            "measured_rate": _r(sent[kind] / window) if window else None,
            "sent": sent[kind],
        }
    return out


def mix_check(summary: dict[str, Any], tolerance: float) -> dict[str, Any]:
    """Every logical request's measured share within ``tolerance`` of its planned share;
    judged once enough requests were sent that sampling noise alone (3 standard deviations
    of a share near one half) stays inside the tolerance."""
    sent = sum(m["sent"] for m in summary["mix"].values())
    needed = math.ceil((1.5 / tolerance) ** 2) if tolerance > 0 else 0
    worst_kind, worst = "", 0.0
    for kind, m in summary["mix"].items():
        if m["planned_share"] == 0 and not m["sent"]:
            continue
        diff = abs(m["difference"] or 0.0)
        if diff >= worst:
            worst_kind, worst = kind, diff
    judged = sent >= needed
    return {
        "check": f"mix: largest share difference ({worst_kind or '-'})",
        "kind": "mix",
        "value": round(worst, 4),
        "limit": tolerance,
        "passed": (worst <= tolerance) if judged else True,
        "judged": judged,
        "note": ""
        if judged
        else f"not judged: {sent} requests sent, {needed} needed to tell "
        f"a {100 * tolerance:g}-point difference from noise",
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def time_series(plan: Plan, reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per interval over all workers: offered, achieved (successful answers), errors (per
    second), corrected latency percentiles (by intended send), the generator's worst send
    lag; which intervals are warm-up and which look like a stall."""
    width = plan.interval_s
    n = max((len(r.get("intervals") or []) for r in reports), default=0)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        parts = [r["intervals"][i] for r in reports if i < len(r.get("intervals") or [])]
        cor = merge(p["corrected"] for p in parts)
        pct = percentiles_ms(cor, ("p50", "p90", "p99"))
        start = i * width
        rows.append(
            {
                "t": round(start, 3),
                "offered": round(sum(p["offered"] for p in parts) / width, 3),
                "achieved": round(sum(p["ok"] for p in parts) / width, 3),
                "errors": round(sum(p["errors"] for p in parts) / width, 3),
                "corrected_p50_ms": pct["p50"],
                "corrected_p90_ms": pct["p90"],
                "corrected_p99_ms": pct["p99"],
                "send_lag_max_ms": max((p["send_lag_max_ms"] for p in parts), default=0.0),
                "warmup": start < plan.warmup_s,
            }
        )
    p99s = [r["corrected_p99_ms"] for r in rows if r["corrected_p99_ms"] is not None]
    typical = statistics.median(p99s) if p99s else None
    for r in rows:
        p99 = r["corrected_p99_ms"]
        slow = typical is not None and p99 is not None and p99 > max(STALL_FACTOR * typical, 50)
        # nothing came back from an interval that offered a few: silence, not chance
        silent = r["offered"] * width >= 5 and r["achieved"] == 0 and r["errors"] == 0
        r["stall"] = bool(slow or silent)
    return {
        "interval_s": width,
        "warmup_s": plan.warmup_s,
        "typical_p99_ms": typical,
        "intervals": rows,
    }


def generator_health(summary: dict[str, Any], slo: Slo, plan: Plan) -> dict[str, Any]:
    """Healthy unless arrivals were dropped, a worker is missing, or the generator's own
    lateness is both over its bound and a sizeable share of the latency it measured."""
    problems, notes = [], []
    lag = summary["send_lag_ms"]["p99"]
    server = summary["corrected_latency_ms"]["p99"]
    share = lag / server if lag is not None and server else None
    if lag is not None and lag > slo.send_lag_p99_max_ms:
        proportion = (
            ""
            if share is None
            else f", {100 * share:.0f}% of the corrected p99 of {server:,.1f} ms it measured"
        )
        if share is not None and share <= LAG_SHARE_MAX:
            notes.append(
                f"the generator's send lag p99 was {lag:.1f} ms, over its "
                f"{slo.send_lag_p99_max_ms:g} ms bound{proportion}: the figures still "
                f"measure the server, to within about {100 * share:.0f}%"
            )
        else:
            problems.append(
                f"the generator's own send lag p99 is {lag:.1f} ms (bound "
                f"{slo.send_lag_p99_max_ms:g} ms){proportion}: it could not send on time"
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
    if healthy:
        tail = (
            ""
            if share is None
            else (
                f" (send lag p99 {lag:.1f} ms, {100 * share:.1f}% of the corrected p99 "
                f"{server:,.1f} ms)"
            )
        )
        message = "generator healthy: it sent on time" + tail
        if notes:
            message = "generator late but in proportion: " + notes[0]
    else:
        message = (
            "UNHEALTHY GENERATOR: the load generator fell behind, so these figures do "
            "not measure the server: " + "; ".join(problems)
        )
    return {
        "healthy": healthy,
        "problems": problems,
        "notes": notes,
        "message": message,
        "lag_share_of_latency": None if share is None else round(share, 4),
    }


def check_all(
    summary: dict[str, Any], slo: Slo, thresholds: Sequence[th.Threshold]
) -> dict[str, Any]:
    checks = th.evaluate(thresholds, figures(summary))
    arrivals = summary["requests"]["arrivals"]
    for c, t in zip(checks, thresholds, strict=True):
        if c["value"] is None and t.name in summary["mix"]:
            expected = (summary["mix"][t.name]["planned_share"] or 0.0) * arrivals
            if expected < FEW:  # none sent where the plan expected hardly any: no verdict
                c["passed"], c["judged"] = True, False
                c["note"] = f"not judged: no {t.name} measured ({expected:.1f} expected)"

    def add(name: str, value: float | None, limit: float, ok: bool, kind: str) -> None:
        checks.append({"check": name, "kind": kind, "value": value, "limit": limit, "passed": ok})

    offered = summary["offered_rate"]
    share = summary["achieved_rate"] / offered if offered else 0.0
    add(
        "achieved / offered rate (successes answered in the window)",
        round(share, 4),
        slo.achieved_rate_min,
        share >= slo.achieved_rate_min,
        "slo",
    )
    checks.append(mix_check(summary, slo.mix_tolerance))
    # the arrivals drawn must be a Poisson count at the target: within 4 standard deviations
    if summary["run"]["aborted_at_s"] is None:
        expected = summary["target_rate"] * summary["run"]["window_s"]
        drawn = summary["requests"]["arrivals"]
        z = (drawn - expected) / math.sqrt(expected) if expected > 0 else 0.0
        add("arrivals drawn vs target (z)", round(z, 2), 4, abs(z) <= 4, "generator")
    v = summary["violations"]["count"]
    add("violations", v, 0, v == 0, "correctness")
    gen = summary["generator"]
    lag = summary["send_lag_ms"]["p99"]
    lag_ok = lag is not None and not any("send lag" in p for p in gen["problems"])
    add(
        "send lag p99 ms (in proportion to latency)",
        lag,
        slo.send_lag_p99_max_ms,
        lag_ok,
        "generator",
    )
    add(
        "dropped arrivals",
        summary["dropped"],
        slo.dropped_max,
        summary["dropped"] <= slo.dropped_max,
        "generator",
    )
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def format_summary(s: dict[str, Any]) -> str:
    """The readable summary ``chakong load`` prints without ``--json``."""

    def ms(d: dict[str, Any], key: str) -> str:
        v = d.get(key)
        return "-" if v is None else f"{v:,.1f}"

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    run = s["run"]
    warm = f" after a {run['warmup_s']:g} s warm-up" if run["warmup_s"] else ""
    lines = [
        f"target {s['target_rate']:g} req/s ({run['shape']['kind']}), offered "
        f"{s['offered_rate']:g}, achieved {s['achieved_rate']:g} over {run['window_s']:g} s"
        f"{warm} with {run['workers']} worker(s) against {run['adapter']}; dropped "
        f"{s['dropped']}",
    ]
    if run["aborted_at_s"] is not None:
        lines.append(f"ABORTED at {run['aborted_at_s']:g} s: an abort-on-fail threshold failed")
    lines += [
        "",
        f"{'request':<12}{'count':>8}{'p50':>9}{'p99':>9}{'p99.9':>9}"
        f"{'corr p50':>10}{'corr p99':>10}{'corr p99.9':>11}  (ms)",
    ]
    rows = [*s["by_name"].items(), ("all", figures(s)["all"])]
    for name, e in rows:
        a, c = e["latency_ms"], e["corrected_latency_ms"]
        lines.append(
            f"{name:<12}{e['count']:>8}{ms(a, 'p50'):>9}{ms(a, 'p99'):>9}{ms(a, 'p999'):>9}"
            f"{ms(c, 'p50'):>10}{ms(c, 'p99'):>10}{ms(c, 'p999'):>11}"
        )
    lines += [
        "",
        f"send lag (generator) p50 {ms(s['send_lag_ms'], 'p50')} ms, p99 "
        f"{ms(s['send_lag_ms'], 'p99')} ms; queue wait p99 {ms(s['queue_wait_ms'], 'p99')} ms",
        f"errors {s['errors']['count']} ({100 * s['errors']['rate']:.3f}%), refusals "
        f"{sum(s['refusals'].values())}, violations {s['violations']['count']}",
        *controls_lines(s.get("controls") or {}),
        "",
        "request mix: planned (the simulation's, with polls) beside measured, shares of all "
        "requests sent",
        f"{'request':<12}{'simulated':>10}{'planned':>10}{'measured':>10}{'diff':>8}"
        f"{'plan /s':>10}{'meas /s':>10}",
    ]
    for kind, m in s["mix"].items():
        diff = m["difference"]
        lines.append(
            f"{kind:<12}{pct(m['predicted_share']):>10}{pct(m['planned_share']):>10}"
            f"{pct(m['measured_share']):>10}"
            f"{'-' if diff is None else f'{100 * diff:+.1f}':>8}"
            f"{m['planned_rate'] or 0:>10.3f}{m['measured_rate'] or 0:>10.3f}"
        )
    if s["substituted"]:
        subs = ", ".join(f"{k} {n}" for k, n in list(s["substituted"].items())[:4])
        lines.append(f"substituted (state missing): {subs}")
    for skipped in s["violations"]["skipped"]:
        lines.append(f"skipped: {skipped}")
    for note in s["notes"]:
        lines.append(f"note: {note}")
    lines.append("")
    for c in s["slo"]["checks"]:
        mark = "pass" if c["passed"] else "FAIL"
        extra = f" ({c['note']})" if c.get("note") else ""
        lines.append(
            f"{mark}  [{c['kind']}] {c['check']}: {c['value']} (limit {c['limit']}){extra}"
        )
    lines.append(s["generator"]["message"])
    lines.append("all checks passed" if s["slo"]["passed"] else "FAILED: see the checks above")
    return "\n".join(lines)
