"""How the demand is shown: the text table of ``chakong demand``, and the HTML page of a
demand folder (``demand.json``) with its plots: a working day hour by hour, the peak hour
minute by minute, and the kinds of day.

Everything here reads the demand's JSON object (:func:`sim.study.demand.summarize_demand`):
rates per second at full volume, means over replications with 95% intervals that never go
below zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.reporting import figures
from sim.reporting.data import read_json
from sim.reporting.html import esc, image, page, table
from sim.reporting.pages import manifest_section
from sim.study import requests as rq
from sim.study.day_kinds import DayKinds

DAY_KIND_LABELS = {
    DayKinds.WORKING: "working day",
    DayKinds.WEEKEND: "weekend",
    DayKinds.HOLIDAY: "public holiday",
}


def rate(v: float | None) -> str:
    """A rate per second, readable from 0.000123 to 12,345."""
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:,.2f}"
    return f"{v:.{2 - math.floor(math.log10(abs(v)))}f}"  # three significant digits


def interval(s: dict[str, Any], fmt: Callable[[float | None], str] = rate) -> str:
    lo, hi = s["ci95"]
    return "-" if lo is None or hi is None else f"[{fmt(lo)}, {fmt(hi)}]"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _count(v: float | None) -> str:
    """Requests per day: one decimal under 1,000, none above."""
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.1f}"


def scale_line(d: dict[str, Any]) -> str:
    """What volume the rates are at, and what was simulated."""
    if d.get("volume_factor", 1) == 1:
        return "rates at full volume (simulated at full volume)"
    return (
        f"rates at full volume: simulated at scale {d['scale']:g} "
        f"({100 * d['volume_factor']:.3g}% of the filings), counts divided by it"
    )


def _cells(s: dict[str, Any], fmt: Callable[[float | None], str] = rate) -> tuple[str, str]:
    return fmt(s["mean"]), interval(s, fmt)


def _aligned(rows: Sequence[Sequence[str]], rules: Sequence[int] = (), left: int = 1) -> list[str]:
    """Columns: the first ``left`` left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for i, r in enumerate(rows):
        cells = [
            c.ljust(w) if j < left else c.rjust(w)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if i in rules:
            out.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    return out


def request_rows(d: dict[str, Any], intervals: bool) -> list[tuple[str, ...]]:
    """One row per request and one for all: per day, mean /s, the working day's peak hour
    and its rate (with its interval when ``intervals``), share."""
    entries = [*d["requests"].items(), ("all requests", d["total"])]
    return [
        (
            name,
            _count(r["per_day"]["mean"]),
            rate(r["per_second"]["mean"]),
            f"{r['peak_hour']:02d}:00" if r["peak_per_second"]["mean"] else "-",
            rate(r["peak_per_second"]["mean"]),
            *((interval(r["peak_per_second"]),) if intervals else ()),
            _pct(r["share"]["mean"]) if "share" in r else "100.0%",
        )
        for name, r in entries
    ]


PEAK_HEADER = ("a working day", "when", "requests/s", "95% interval")


def peak_rows(t: dict[str, Any]) -> list[tuple[str, ...]]:
    """A working day's peak hour, peak minute, 24-hour mean and their ratio."""
    hour = t["peak_hour"]
    return [
        ("peak hour", f"{hour:02d}:00-{hour + 1:02d}:00", *_cells(t["peak_per_second"])),
        ("peak minute", t["peak_minute"], *_cells(t["peak_minute_per_second"])),
        ("24-hour mean", "", *_cells(t["working_day_per_second"])),
        ("peak hour / 24-hour mean", "", *_cells(t["peak_to_mean"], _ratio)),
        ("peak minute / its hour's mean", "", *_cells(t["peak_minute_to_hour"], _ratio)),
    ]


KINDS_HEADER = ("kind of day", "days", "requests per day", "95% interval", "mean /s")


def day_kind_rows(t: dict[str, Any]) -> list[tuple[str, ...]]:
    """Days of each kind in the window and the requests of a mean day of the kind."""
    return [
        (
            DAY_KIND_LABELS.get(kind, kind),
            str(k["days"]),
            _count(k["per_day"]["mean"]),
            interval(k["per_day"], _count),
            rate(k["per_second"]["mean"]),
        )
        for kind, k in t["by_day_kind"].items()
    ]


def format_demand(d: dict[str, Any]) -> str:
    """The readable table of ``chakong demand``."""
    t = d["total"]
    first, last = d.get("window", ["?", "?"])
    lines = [
        f"{d['scenario']}: demand on the query-and-control network, "
        f"{d['replications']} replication(s), seed {d['seed']}",
        f"window {d['window_days']:g} days ({first} to {last}); {scale_line(d)}",
        "",
    ]
    rows = request_rows(d, intervals=False)
    header = ("request", "per day", "mean /s", "peak hour", "peak /s", "share")
    lines += _aligned([header, *rows], rules=(0, len(rows) - 1))
    lines += ["", *_aligned([PEAK_HEADER, *_indented(peak_rows(t))], left=2)]
    lines += ["", *_aligned([KINDS_HEADER, *_indented(day_kind_rows(t))])]
    lines += [
        "",
        f"busiest single hour of the window: "
        f"{rate(t['busiest_hour_per_second']['mean'])} requests/s",
        "controls per day by asset type (online; in person apart):",
    ]
    for action, assets in d["controls_per_day_by_asset"].items():
        cells = ", ".join(f"{a} {_count(s['mean'])}" for a, s in assets.items())
        lines.append(f"  {action:<9} {cells}")
    for action, assets in d["in_person_controls_per_day_by_asset"].items():
        cells = ", ".join(f"{a} {_count(s['mean'])}" for a, s in assets.items())
        lines.append(f"  {action:<9} in person: {cells}")
    lines.append(_channel_line(d))
    return "\n".join(lines)


def _channel_line(d: dict[str, Any]) -> str:
    """Each channel's share of the queries, and its range over the regions."""
    queries = {
        rq.split(name)[1]: r["per_second"]["mean"] or 0.0
        for name, r in d["requests"].items()
        if rq.split(name)[0] == rq.QUERY
    }
    total = sum(queries.values())
    by_region = d["query_channel_share_by_region"].values()
    cells = []
    for channel, n in queries.items():
        shares = [100 * s.get(channel, 0.0) for s in by_region]
        spread = f" (regions {min(shares):.0f}%-{max(shares):.0f}%)" if shares else ""
        cells.append(f"{channel} {100 * n / total if total else 0:.0f}%{spread}")
    return "query channel share: " + ", ".join(cells)


def _indented(rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [(f"  {r[0]}", *r[1:]) for r in rows]


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


# ---------------------------------------------------------------- plots


@figures.drawn
def working_day_plot(d: dict[str, Any]) -> bytes | None:
    """Requests per second by hour of a working day, stacked by request, with the 24-hour
    mean and the peak hour."""
    t = d["total"]
    if not any(t["by_hour_per_second"]):
        return None
    fig, ax = figures.subplots(figsize=(8.5, 4.4))
    hours = np.arange(24)
    bottom = np.zeros(24)
    for k, (name, r) in enumerate(d["requests"].items()):
        y = np.asarray(r["by_hour_per_second"], dtype=float)
        if y.any():
            ax.bar(
                hours,
                y,
                bottom=bottom,
                width=0.9,
                align="edge",
                label=name,
                color=figures.colour(k),
            )
            bottom += y
    mean = t["working_day_per_second"]["mean"] or 0.0
    ax.axhline(
        mean, color="#222", linestyle="--", linewidth=1, label=f"24-hour mean {rate(mean)}/s"
    )
    lo, hi = t["peak_per_second"]["ci95"]
    if lo is not None and hi is not None:
        p = t["peak_hour"]
        ax.errorbar(
            p + 0.45,
            t["peak_per_second"]["mean"],
            yerr=[[t["peak_per_second"]["mean"] - lo], [hi - t["peak_per_second"]["mean"]]],
            color="#222",
            capsize=4,
            label="peak hour, 95% interval",
        )
    ax.set_xticks(range(0, 25, 2))
    ax.set_xlim(0, 24)
    ax.set_xlabel("hour of a working day")
    ax.set_ylabel("requests per second (full volume)")
    ax.set_title(f"{d['scenario']}: a working day, hour by hour")
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    return figures.png(fig)


@figures.drawn
def peak_hour_plot(d: dict[str, Any]) -> bytes | None:
    """Requests per second minute by minute in the peak hour of a working day."""
    t = d["total"]
    y = np.asarray(t["peak_hour_by_minute_per_second"], dtype=float)
    if not y.any():
        return None
    fig, ax = figures.subplots(figsize=(8.5, 3.8))
    ax.step(np.arange(60), y, where="post", color=figures.colour(0),
            label="requests/s in this hour")  # fmt: skip
    hour = t["peak_per_second"]["mean"] or 0.0
    profile = hour * 60 * np.asarray(t["within_hour_share"], dtype=float)
    ax.step(np.arange(60), profile, where="post", color=figures.colour(1),
            label="the within-hour profile (every hour pooled)")  # fmt: skip
    ax.axhline(
        hour, color="#222", linestyle="--", linewidth=1, label=f"mean of the hour {rate(hour)}/s"
    )
    ax.set_xlim(0, 60)
    ax.set_xlabel(f"minute of {t['peak_hour']:02d}:00-{t['peak_hour'] + 1:02d}:00")
    ax.set_ylabel("requests per second (full volume)")
    ax.set_title(f"The peak hour minute by minute (the day's peak minute: {t['peak_minute']})")
    ax.legend(fontsize=8, loc="best")  # explicit: no slowness warning
    return figures.png(fig)


@figures.drawn
def day_kinds_plot(d: dict[str, Any]) -> bytes | None:
    """Requests per day on each kind of day, with 95% intervals."""
    kinds = d["total"]["by_day_kind"]
    if not kinds:
        return None
    fig, ax = figures.subplots(figsize=(6, 3.6))
    labels: list[str] = []
    means: list[float] = []
    errs: list[list[float]] = [[], []]
    for kind, k in kinds.items():
        labels.append(f"{DAY_KIND_LABELS.get(kind, kind)}\n({k['days']} days)")
        m = k["per_day"]["mean"] or 0.0
        lo, hi = k["per_day"]["ci95"]
        means.append(m)
        errs[0].append(m - lo if lo is not None else 0.0)
        errs[1].append(hi - m if hi is not None else 0.0)
    x = np.arange(len(labels))
    ax.bar(x, means, color=[figures.colour(k) for k in range(len(labels))], yerr=errs, capsize=5)
    ax.set_xticks(x, labels)
    ax.set_ylabel("requests per day (full volume)")
    ax.set_title("Kinds of day")
    return figures.png(fig)


# ---------------------------------------------------------------- page


def demand_page(folder: Path) -> str:
    """The report of a demand folder."""
    d = read_json(folder / "demand.json")
    m = read_json(folder / "manifest.json")
    t = d["total"]
    subtitle = [
        esc(
            f"{d['replications']} replication(s), seed {d['seed']}, window "
            f"{d['window_days']:g} days ({' to '.join(d.get('window', []))})"
        ),
        esc(scale_line(d)),
        esc(f"command: {m.get('command', '')}"),
    ]
    peak = table(PEAK_HEADER, peak_rows(t), numeric=(2,))
    kinds = table(KINDS_HEADER, day_kind_rows(t), numeric=(1, 2, 4))
    note = (
        '<p class="note">Means over replications; 95% intervals on the log scale, so none '
        "goes below zero. A working day is Monday to Friday, not a public holiday (a make-up "
        "working day, 调休, counts as one). Rates are per second of wall-clock time at full "
        "volume.</p>"
    )
    return page(
        f"chakong demand: {d['scenario']}",
        subtitle,
        [
            ("peak", "Peak of a working day", peak + note),
            (
                "plots",
                "Plots",
                image(working_day_plot(d), "a working day, hour by hour")
                + image(peak_hour_plot(d), "the peak hour, minute by minute")
                + image(day_kinds_plot(d), "kinds of day"),
            ),
            ("kinds", "Kinds of day", kinds),
            (
                "requests",
                "Requests",
                table(
                    (
                        "request",
                        "per day",
                        "mean /s",
                        "peak hour",
                        "peak /s",
                        "95% interval",
                        "share",
                    ),
                    request_rows(d, intervals=True),
                    numeric=(1, 2, 4, 6),
                ),
            ),
            ("manifest", "Manifest", manifest_section(m)),
        ],
    )
