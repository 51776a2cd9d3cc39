"""``report.html`` of a load run: the verdicts, the simulation's prediction beside the
measurement, latency from the actual and from the intended send, correctness.

Built from the folder's ``summary.json`` and ``manifest.json`` alone, with the same
self-contained page builders as the simulation's reports (embedded PNGs, inline style, a
Content-Security-Policy that forbids the network), so it opens anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.reporting import figures
from sim.reporting.html import details, esc, image, page, pre, table

plt = figures.plt  # after sim.reporting.figures chose the Agg backend

PERCENTILES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"))


def _n(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


@figures.drawn
def mix_chart(mix: dict[str, dict[str, Any]]) -> bytes | None:
    """Requests per second by kind: the simulation's prediction against the measurement."""
    kinds = [k for k, m in mix.items() if m.get("predicted_rate") is not None]
    if not kinds:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(kinds) + 1.4))
    ys = range(len(kinds))
    predicted = [mix[k]["predicted_rate"] or 0 for k in kinds]
    measured = [mix[k].get("measured_rate") or 0 for k in kinds]
    ax.barh([y + 0.2 for y in ys], predicted, 0.4, label="simulated", color=figures.colour(0))
    ax.barh([y - 0.2 for y in ys], measured, 0.4, label="measured", color=figures.colour(1))
    ax.set_yticks(list(ys), kinds)
    ax.invert_yaxis()
    ax.set_xlabel("requests per second")
    ax.legend(loc="best")
    ax.grid(axis="x", alpha=0.3)
    return figures.png(fig)


@figures.drawn
def latency_chart(by_name: dict[str, dict[str, Any]]) -> bytes | None:
    """Each request's percentiles, from the actual send and from the intended send."""
    names = sorted(by_name)
    if not names:
        return None
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        xs = range(len(PERCENTILES))
        for k, (key, label) in enumerate(
            (("latency_ms", "from actual send"), ("corrected_latency_ms", "from intended send"))
        ):
            values = [by_name[name][key].get(p) or 0 for p, _ in PERCENTILES]
            ax.plot(list(xs), values, marker="o", label=label, color=figures.colour(k))
        ax.set_xticks(list(xs), [label for _, label in PERCENTILES])
        ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("latency (ms)")
    axes[0][0].legend(fontsize=8)
    return figures.png(fig)


def _verdict(summary: dict[str, Any]) -> str:
    slo = summary["slo"]
    gen = summary.get("generator", {})
    failed = [c["check"] for c in slo["checks"] if not c["passed"]]
    head = "SLOs passed" if slo["passed"] else f"FAILED: {', '.join(failed)}"
    return (
        f'<p class="verdict"><b>{esc(head)}</b><br>{esc(gen.get("message", ""))}<br>'
        f"target {esc(_n(summary['target_rate'], 3))} req/s, offered "
        f"{esc(_n(summary.get('offered_rate'), 3))}, achieved "
        f"{esc(_n(summary['achieved_rate'], 3))}; dropped {esc(summary['dropped'])}; errors "
        f"{esc(summary['errors']['count'])}; violations {esc(summary['violations']['count'])}</p>"
    )


def _checks(summary: dict[str, Any]) -> str:
    rows = [
        (
            c["kind"],
            c["check"],
            _n(c["value"], 3),
            _n(c["limit"], 3),
            "pass" if c["passed"] else "FAIL",
        )
        for c in summary["slo"]["checks"]
    ]
    bad = {(i, 4): "bad" for i, c in enumerate(summary["slo"]["checks"]) if not c["passed"]}
    return table(("kind", "check", "value", "limit", "result"), rows, (2, 3), cell_classes=bad)


def _mix(summary: dict[str, Any]) -> str:
    mix = summary.get("mix", {})
    rows = [
        (
            kind,
            _pct(m.get("predicted_share")),
            _pct(m.get("measured_share_without_polls")),
            _n(m.get("predicted_rate"), 3),
            _n(m.get("measured_rate"), 3),
        )
        for kind, m in mix.items()
    ]
    note = (
        '<p class="note">Simulated: the request mix that <code>chakong demand</code> derives '
        "from the scenario's event log, at the run's target rate. Measured: what the flows "
        "sent. Shares leave out polls of pending queries, which the simulation does not "
        "predict; in a short run freezes and deductions wait for answers on the API's "
        "scaled clock, so they lag the prediction.</p>"
    )
    return (
        note
        + table(
            ("request kind", "simulated share", "measured share", "simulated /s", "measured /s"),
            rows,
            (1, 2, 3, 4),
        )
        + image(mix_chart(mix), "requests per second by kind", "simulated against measured")
    )


def _latency(summary: dict[str, Any]) -> str:
    rows = []
    for name, v in sorted(summary.get("by_name", {}).items()):
        rows.append(
            (
                name,
                v["count"],
                *(_n(v["latency_ms"].get(p), 2) for p, _ in PERCENTILES),
                *(_n(v["corrected_latency_ms"].get(p), 2) for p, _ in PERCENTILES),
            )
        )
    rows.append(
        (
            "all",
            summary["requests"].get("completed", "-"),
            *(_n(summary["latency_ms"].get(p), 2) for p, _ in PERCENTILES),
            *(_n(summary["corrected_latency_ms"].get(p), 2) for p, _ in PERCENTILES),
        )
    )
    heads = (
        "request",
        "count",
        *(f"{label} ms" for _, label in PERCENTILES),
        *(f"corrected {label} ms" for _, label in PERCENTILES),
    )
    lag = summary.get("send_lag_ms", {})
    note = (
        '<p class="note">Latency from the actual send, and corrected for coordinated omission: '
        "from the instant the open (Poisson) schedule meant the request to start. HDR "
        f"histograms at microsecond resolution. Send lag of the generator itself: p50 "
        f"{esc(_n(lag.get('p50'), 2))} ms, p99 {esc(_n(lag.get('p99'), 2))} ms.</p>"
    )
    return (
        note
        + table(heads, rows, tuple(range(1, len(heads))))
        + image(latency_chart(summary.get("by_name", {})), "latency percentiles by request")
    )


def _correctness(summary: dict[str, Any]) -> str:
    v = summary["violations"]
    rows = [(kind, n) for kind, n in sorted(v.get("by_kind", {}).items())]
    post = v.get("post_run", {})
    rows += [(f"after the run: {k}", "ok" if r.get("ok") else "NOT OK") for k, r in post.items()]
    refusals = sorted(summary.get("refusals", {}).items())
    return (
        table(("check", "result"), rows or [("violations", 0)], (1,))
        + "<h3>Refusals (expected answers, not errors)</h3>"
        + table(("refusal", "count"), refusals or [("none", 0)], (1,))
        + "<h3>HTTP errors</h3>"
        + table(
            ("error", "count"),
            sorted(summary["errors"].get("by_kind", {}).items()) or [("none", 0)],
            (1,),
        )
    )


def load_page(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    manifest_path = folder / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    )
    run = summary.get("run", {})
    files = "".join(
        f'<li><a href="{esc(p.name)}">{esc(p.name)}</a></li>'
        for p in sorted(folder.iterdir())
        if p.suffix in (".html", ".csv", ".json") and p.name != "report.html"
    )
    sections = [
        ("verdict", "Verdict", _verdict(summary) + _checks(summary)),
        ("mix", "Simulated against measured", _mix(summary)),
        ("latency", "Latency", _latency(summary)),
        ("correctness", "Correctness", _correctness(summary)),
        (
            "files",
            "Files and manifest",
            f"<ul>{files}</ul>" + details("manifest.json", pre(json.dumps(manifest, indent=2))),
        ),
    ]
    subtitle = [
        esc(
            f"{run.get('workers', '?')} worker(s), {_n(run.get('duration_s'))} s, "
            f"{run.get('shape', '')} load shape, seed {run.get('seed', '?')}, host "
            f"{run.get('host', '?')}"
        )
    ]
    return page(f"chakong load: {summary.get('scenario', folder.name)}", subtitle, sections)


def write_report(folder: Path) -> Path:
    out = folder / "report.html"
    out.write_text(load_page(folder), encoding="utf-8")
    return out
