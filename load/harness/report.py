"""``report.html`` of a load run: verdicts, time series, the simulation beside the measurement,
latency from the actual and from the intended send, correctness.

Built from the folder's ``summary.json`` and ``manifest.json`` alone, with the simulation
reports' page builders (embedded PNGs, inline style, a Content-Security-Policy that forbids
the network), so it opens anywhere; its Chinese terms are drawn with the font the install
brings (:mod:`sim.reporting.fonts`), in the page and in the plots. Plots are matplotlib
``Figure`` objects (no pyplot, no backend switch). A ``--find-capacity`` folder gets a page
of its steps.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from load.harness.summary import controls_lines
from load.target import logical as lr
from sim.reporting.fonts import cjk_plots
from sim.reporting.html import details, esc, image, page, pre, table

PERCENTILES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"))
COLOURS = ("#4878a8", "#c44e52", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#8c8c8c")
CHINESE = {
    lr.FILE_CASE: "立案",
    lr.SEND_QUERY: "查询",
    lr.POLL_QUERY: "反馈",
    lr.READ_CASE: "案件",
    lr.FREEZE: "冻结",
    lr.DEDUCT: "划扣",
    lr.UNFREEZE: "解冻",
    lr.RENEW: "续冻",
    lr.POLL_CONTROL: "控制反馈",
}
# what each count of the controls means (summary.json controls.counts)
CONTROL_COUNTS = {
    "acknowledged": "controls answered with their id (done, with an agency, or refused)",
    "accepted": "of them, handed to an agency (202 accepted): followed by poll_control",
    "done": "ended done",
    "failed": "ended failed, with the agency's reason",
    "refused": "refused by the API's rules",
    "unknown_seen": "seen unknown (the API stopped waiting for the agency): never failed",
    "retried": "unknown ones sent again with the same Idempotency-Key and body",
    "unknown_then_done": "unknown, then done",
    "unknown_then_failed": "unknown, then failed",
    "resent": "controls that got no answer, sent again with their key",
    "waiting": "freezes done while waiting in line (轮候, holding nothing): polled until they hold",
    "waiting_took_effect": "of them, took effect during the run (then deducted from)",
    "polls": "poll_control answers (re-reads included)",
    "rereads": "re-reads of a final control (nothing open to poll)",
    "open_at_end": "still with an agency when the run ended",
    "waiting_at_end": "still waiting in line when the run ended",
}


def _label(kind: str) -> str:
    zh = CHINESE.get(kind)
    return f"{kind} {zh}" if zh else kind


def _n(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _png(draw) -> bytes | None:
    """Draw with the CJK fallback fonts into a new Figure; PNG bytes, or None."""
    with cjk_plots():
        fig = draw()
        if fig is None:
            return None
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


# ---------------------------------------------------------------- charts


def _log_ms(ax: Axes) -> None:
    """A log axis of milliseconds with plain numbers (2, 5, 10, 20), not powers of ten."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.tick_params(axis="y", which="minor", labelsize=7)


def time_series_chart(ts: dict[str, Any]) -> bytes | None:
    """Offered, achieved and errors per second; corrected latency percentiles; the
    generator's worst send lag, per interval; warm-up shaded grey, stalls red."""
    rows = ts.get("intervals") or []
    if not rows:
        return None

    def draw() -> Figure:
        fig = Figure(figsize=(9.5, 7.2))
        axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.6]})
        t = [r["t"] + ts["interval_s"] / 2 for r in rows]
        rates, lat, lag = axes
        rates.plot(t, [r["offered"] for r in rows], label="offered", color=COLOURS[0])
        rates.plot(t, [r["achieved"] for r in rows], label="achieved (successes)", color=COLOURS[2])
        rates.plot(t, [r["errors"] for r in rows], label="errors", color=COLOURS[1])
        rates.set_ylabel("requests / s")
        rates.legend(loc="upper left", fontsize=8)
        for key, k in (("corrected_p50_ms", 0), ("corrected_p90_ms", 3), ("corrected_p99_ms", 1)):
            lat.plot(
                t,
                [r[key] if r[key] else float("nan") for r in rows],
                color=COLOURS[k],
                label=key.replace("corrected_", "corrected ").replace("_ms", ""),
            )
        _log_ms(lat)
        lat.set_ylabel("latency (ms)")
        lat.legend(loc="upper left", fontsize=8)
        lag.plot(t, [r["send_lag_max_ms"] for r in rows], color=COLOURS[6])
        lag.set_ylabel("send lag\nmax (ms)")
        lag.set_xlabel("seconds into the run")
        for ax in axes:
            ax.grid(alpha=0.3)
            for r in rows:
                end = r["t"] + ts["interval_s"]
                if r["warmup"]:
                    ax.axvspan(r["t"], end, color="#999999", alpha=0.15, lw=0)
                if r["stall"]:
                    ax.axvspan(r["t"], end, color=COLOURS[1], alpha=0.15, lw=0)
        return fig

    return _png(draw)


def mix_chart(mix: dict[str, dict[str, Any]]) -> bytes | None:
    """Requests per second by logical request: planned (the simulated mix) and measured."""
    kinds = [k for k, m in mix.items() if m.get("planned_rate") or m.get("measured_rate")]
    if not kinds:
        return None

    def draw() -> Figure:
        fig = Figure(figsize=(8.5, 0.45 * len(kinds) + 1.4))
        ax = fig.subplots()
        ys = range(len(kinds))
        ax.barh(
            [y + 0.2 for y in ys],
            [mix[k]["planned_rate"] or 0 for k in kinds],
            0.4,
            label="planned (simulated mix)",
            color=COLOURS[0],
        )
        ax.barh(
            [y - 0.2 for y in ys],
            [mix[k]["measured_rate"] or 0 for k in kinds],
            0.4,
            label="measured",
            color=COLOURS[1],
        )
        ax.set_yticks(list(ys), [_label(k) for k in kinds])
        ax.invert_yaxis()
        ax.set_xlabel("requests per second")
        ax.legend(loc="best")
        ax.grid(axis="x", alpha=0.3)
        return fig

    return _png(draw)


def latency_chart(by_name: dict[str, dict[str, Any]]) -> bytes | None:
    """Each request's percentiles, from the actual send and from the intended send."""
    names = [n for n in by_name if by_name[n]["count"]]
    if not names:
        return None

    def draw() -> Figure:
        cols = min(4, len(names))
        rows = (len(names) + cols - 1) // cols
        fig = Figure(figsize=(3.2 * cols, 3.0 * rows))
        axes = fig.subplots(rows, cols, squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i >= len(names):
                ax.set_visible(False)
                continue
            name = names[i]
            xs = list(range(len(PERCENTILES)))
            for k, (key, label) in enumerate(
                (("latency_ms", "from actual send"), ("corrected_latency_ms", "from intended send"))
            ):
                values = [by_name[name][key].get(p) or 0 for p, _ in PERCENTILES]
                ax.plot(xs, values, marker="o", label=label, color=COLOURS[k])
            ax.set_xticks(xs, [label for _, label in PERCENTILES])
            _log_ms(ax)
            ax.set_title(_label(name), fontsize=9)
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("latency (ms)")
        axes[0][0].legend(fontsize=7)
        return fig

    return _png(draw)


def capacity_chart(steps: list[dict[str, Any]]) -> bytes | None:
    if not steps:
        return None

    def draw() -> Figure:
        fig = Figure(figsize=(8, 3.8))
        ax = fig.subplots()
        xs = [s["rate"] for s in steps]
        ax.plot(
            xs,
            [s["achieved_rate"] for s in steps],
            marker="o",
            color=COLOURS[2],
            label="achieved / s",
        )
        ax.plot(xs, xs, linestyle=":", color=COLOURS[6], label="offered / s")
        ax.set_xlabel("offered rate (requests / s)")
        ax.set_ylabel("requests / s")
        right = ax.twinx()
        right.plot(
            xs,
            [s["corrected_p99_ms"] or float("nan") for s in steps],
            marker="s",
            color=COLOURS[1],
            label="corrected p99 (ms)",
        )
        right.set_ylabel("corrected p99 (ms)")
        for s in steps:
            if not s["passed"]:
                ax.axvline(s["rate"], color=COLOURS[1], alpha=0.4)
        ax.legend(loc="upper left", fontsize=8)
        right.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
        return fig

    return _png(draw)


# ---------------------------------------------------------------- sections


def _verdict(summary: dict[str, Any]) -> str:
    slo = summary["slo"]
    gen = summary.get("generator", {})
    failed = [c["check"] for c in slo["checks"] if not c["passed"]]
    head = "all checks passed" if slo["passed"] else f"FAILED: {', '.join(failed)}"
    run = summary["run"]
    abort = run.get("abort")
    aborted = (
        f"<br>ABORTED at {esc(abort['at_s'])} s: {esc(abort['threshold'])} "
        f"(value {esc(_n(abort['value'], 3))})"
        if abort
        else ""
    )
    return (
        f'<p class="verdict"><b>{esc(head)}</b>{aborted}<br>{esc(gen.get("message", ""))}<br>'
        f"target {esc(_n(summary['target_rate'], 3))} req/s, offered "
        f"{esc(_n(summary.get('offered_rate'), 3))}, achieved "
        f"{esc(_n(summary['achieved_rate'], 3))} (successes answered inside the "
        f"{esc(_n(run['window_s'], 0))} s window); dropped {esc(summary['dropped'])}; errors "
        f"{esc(summary['errors']['count'])}; violations {esc(summary['violations']['count'])}</p>"
    )


def _checks(summary: dict[str, Any]) -> str:
    checks = summary["slo"]["checks"]
    rows = [
        (
            c["kind"],
            c["check"],
            _n(c["value"], 3),
            _n(c["limit"], 3),
            ("pass" if c["passed"] else "FAIL")
            + (" (not judged)" if c.get("judged") is False else ""),
        )
        for c in checks
    ]
    bad = {(i, 4): "bad" for i, c in enumerate(checks) if not c["passed"]}
    return table(("kind", "check", "value", "limit", "result"), rows, (2, 3), cell_classes=bad)


def _series(summary: dict[str, Any]) -> str:
    ts = summary.get("time_series") or {}
    rows = ts.get("intervals") or []
    stalls = [r["t"] for r in rows if r["stall"]]
    warm = summary["run"]["warmup_s"]
    note = (
        f'<p class="note">Per {esc(_n(ts.get("interval_s"), 1))} s interval over every worker: '
        "requests offered (the Poisson arrivals meant to start in it), achieved (successful "
        "answers that came in it) and errors per second; latency corrected for coordinated "
        "omission, by intended send; the generator's worst send lag. "
        + (
            f"The first {esc(_n(warm, 0))} s are the warm-up (grey), left out of every verdict. "
            if warm
            else ""
        )
        + (
            f"Red: intervals that look like a stall ({len(stalls)}: corrected p99 over "
            f"{esc(_n(5.0, 0))} times the run's typical "
            f"{esc(_n(ts.get('typical_p99_ms'), 1))} ms, or nothing answered), from "
            f"{esc(_n(stalls[0], 0))} s."
            if stalls
            else "No interval looks like a stall."
        )
        + "</p>"
    )
    return note + image(
        time_series_chart(ts),
        "time series",
        "offered, achieved and errors; corrected latency; send lag",
    )


def _health(summary: dict[str, Any]) -> str:
    gen = summary.get("generator", {})
    lag = summary.get("send_lag_ms", {})
    server = summary["corrected_latency_ms"].get("p99")
    share = gen.get("lag_share_of_latency")
    proportion = (
        f"The generator's own lateness (send lag p99 {_n(lag.get('p99'), 2)} ms, max "
        f"{_n(lag.get('max'), 2)} ms) against the latency it measured (corrected p99 "
        f"{_n(server, 1)} ms): {_pct(share)} of it. "
        if share is not None
        else ""
    )
    return (
        f'<p class="note">{esc(proportion)}A generator late by a small share of the '
        "server's latency still measures the server, to within that share; late by a large "
        "share, or dropping arrivals, it measures itself. Verdict: "
        f"<b>{esc(gen.get('message', ''))}</b></p>"
        + "".join(f'<p class="note">{esc(n)}</p>' for n in gen.get("problems", []))
    )


def _mix(summary: dict[str, Any]) -> str:
    mix = summary.get("mix", {})
    rows = [
        (
            _label(kind),
            lr.MEANING.get(kind, ""),
            _pct(m.get("predicted_share")),
            _pct(m.get("planned_share")),
            _pct(m.get("measured_share")),
            "-" if m.get("difference") is None else f"{100 * m['difference']:+.1f}",
            _n(m.get("planned_rate"), 3),
            _n(m.get("measured_rate"), 3),
        )
        for kind, m in mix.items()
    ]
    mix_check = next((c for c in summary["slo"]["checks"] if c["kind"] == "mix"), None)
    verdict = ""
    if mix_check:
        verdict = (
            f" Check: the largest difference is {_n(100 * (mix_check['value'] or 0), 1)} "
            f"points against a tolerance of {_n(100 * mix_check['limit'], 1)}: "
            + ("passed" if mix_check["passed"] else "FAILED")
            + (f" ({mix_check['note']})" if mix_check.get("note") else "")
            + "."
        )
    subs = summary.get("substituted") or {}
    note = (
        '<p class="note">Simulated: the shares of the logical requests that '
        "<code>chakong demand</code> derives from the scenario's event log. Planned: that "
        "mix with the polls (and reads) the simulation does not predict. Measured: every "
        "request sent after the warm-up; each logical request is driven at its own rate on "
        "the state the run primed, and falls back along the flow only when that state ran "
        f"out ({sum(subs.values())} such substitutions).{esc(verdict)}</p>"
    )
    heads = (
        "request",
        "what a court does",
        "simulated",
        "planned",
        "measured",
        "diff (points)",
        "planned /s",
        "measured /s",
    )
    return (
        note
        + table(heads, rows, (2, 3, 4, 5, 6, 7))
        + image(
            mix_chart(mix),
            "requests per second by logical request",
            "planned (the simulated mix at the target) against measured",
        )
    )


def _latency(summary: dict[str, Any]) -> str:
    rows = []
    for name, v in summary.get("by_name", {}).items():
        rows.append(
            (
                _label(name),
                v.get("request", name),
                v["count"],
                *(_n(v["latency_ms"].get(p), 2) for p, _ in PERCENTILES),
                *(_n(v["corrected_latency_ms"].get(p), 2) for p, _ in PERCENTILES),
            )
        )
    rows.append(
        (
            "all",
            "",
            summary["requests"].get("completed", "-"),
            *(_n(summary["latency_ms"].get(p), 2) for p, _ in PERCENTILES),
            *(_n(summary["corrected_latency_ms"].get(p), 2) for p, _ in PERCENTILES),
        )
    )
    heads = (
        "request",
        "HTTP",
        "count",
        *(f"{label} ms" for _, label in PERCENTILES),
        *(f"corrected {label} ms" for _, label in PERCENTILES),
    )
    note = (
        '<p class="note">Latency from the actual send, and corrected for coordinated omission: '
        "from the instant the open (Poisson) schedule meant the request to start. HDR "
        "histograms at microsecond resolution, merged over workers. Locust's own statistics "
        "(locust.html) are from the actual send only.</p>"
    )
    return (
        note
        + table(heads, rows, tuple(range(2, len(heads))))
        + image(latency_chart(summary.get("by_name", {})), "latency percentiles by request")
    )


def _correctness(summary: dict[str, Any]) -> str:
    v = summary["violations"]
    rows = [(kind, n) for kind, n in sorted(v.get("by_kind", {}).items())]
    post = v.get("post_run", {})
    rows += [(f"after the run: {k}", "ok" if r.get("ok") else "NOT OK") for k, r in post.items()]
    rows += [(f"skipped: {s}", "-") for s in v.get("skipped", [])]
    refusals = sorted(summary.get("refusals", {}).items())
    return (
        table(("check", "result"), rows or [("violations", 0)], (1,))
        + "<h3>Refusals (the API enforcing a rule: expected answers, not errors)</h3>"
        + table(("refusal", "count"), refusals or [("none", 0)], (1,))
        + "<h3>HTTP errors</h3>"
        + table(
            ("error", "count"),
            sorted(summary["errors"].get("by_kind", {}).items()) or [("none", 0)],
            (1,),
        )
    )


def _controls(summary: dict[str, Any]) -> str:
    c = summary.get("controls") or {}
    if not c:
        return "<p>-</p>"
    counts = c.get("counts") or {}
    rows = [(k, counts.get(k, 0), meaning) for k, meaning in CONTROL_COUNTS.items()]
    polls = (c.get("polls") or {}).get("note") or (
        "the adapter declares no poll_control: every control is taken as final when answered"
    )
    text = " ".join(controls_lines(c))
    return f'<p class="note">{esc(text)}</p><p class="note">{esc(polls)}.</p>' + table(
        ("count", "controls", "meaning"), rows, (1,)
    )


def _files(folder: Path, manifest: dict[str, Any]) -> str:
    files = "".join(
        f'<li><a href="{esc(p.name)}">{esc(p.name)}</a></li>'
        for p in sorted(folder.iterdir())
        if p.suffix in (".html", ".csv", ".json") and p.name != "report.html"
    )
    return f"<ul>{files}</ul>" + details("manifest.json", pre(json.dumps(manifest, indent=2)))


def load_page(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    manifest_path = folder / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    )
    if summary.get("kind") == "capacity":
        return capacity_page(folder, summary, manifest)
    run = summary.get("run", {})
    prime = [p for p in summary.get("prime", []) if p]
    run_rows = [
        (f"worker {i}: primed in {p['seconds']} s", json.dumps(p["stock"]))
        for i, p in enumerate(prime)
    ] + [("note", n) for n in summary.get("notes", [])]
    sections = [
        ("verdict", "Verdict", _verdict(summary) + _checks(summary)),
        ("series", "Time series", _series(summary)),
        ("health", "Generator health", _health(summary)),
        ("mix", "Simulated against measured", _mix(summary)),
        ("latency", "Latency", _latency(summary)),
        ("correctness", "Correctness", _correctness(summary)),
        ("controls", "Controls with the agencies", _controls(summary)),
        ("run", "The run", table(("what", "value"), run_rows or [("-", "-")])),
        ("files", "Files and manifest", _files(folder, manifest)),
    ]
    shape = run.get("shape", {})
    subtitle = [
        esc(
            f"{run.get('workers', '?')} worker(s), {_n(run.get('duration_s'))} s "
            f"({_n(run.get('warmup_s'))} s warm-up), {shape.get('kind', '')} load shape, seed "
            f"{run.get('seed', '?')}, {run.get('adapter', '')} at {run.get('host', '?')}"
        )
    ]
    title = f"chakong load: {summary.get('scenario', folder.name)}"
    return page(title, subtitle, sections)


def capacity_page(folder: Path, summary: dict[str, Any], manifest: dict[str, Any]) -> str:
    steps = summary.get("steps", [])
    rows = [
        (
            s["step"],
            _n(s["rate"], 1),
            _n(s["achieved_rate"], 1),
            _n(s["corrected_p99_ms"], 1),
            _pct(s["error_rate"]),
            "pass" if s["passed"] else "FAIL: " + ", ".join(s["failed"]),
            s["folder"],
        )
        for s in steps
    ]
    body = (
        f'<p class="verdict"><b>{esc(summary["verdict"])}</b></p>'
        + table(
            ("step", "rate /s", "achieved /s", "corrected p99 ms", "errors", "result", "folder"),
            rows,
            (1, 2, 3, 4),
        )
        + image(capacity_chart(steps), "capacity steps", "achieved rate and corrected p99 by step")
    )
    sections = [
        ("capacity", "Capacity", body),
        ("files", "Files and manifest", _files(folder, manifest)),
    ]
    title = f"chakong load: {summary.get('scenario', folder.name)} capacity"
    return page(title, [esc("--find-capacity: each step a run of its own")], sections)


def write_report(folder: Path) -> Path:
    out = folder / "report.html"
    out.write_text(load_page(folder), encoding="utf-8")
    steps = sorted(p for p in folder.glob("step-*") if (p / "summary.json").exists())
    for step in steps:
        (step / "report.html").write_text(load_page(step), encoding="utf-8")
    return out
