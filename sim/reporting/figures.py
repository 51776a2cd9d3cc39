"""The report's plots, drawn with matplotlib from the files of a results folder and returned
as PNG bytes (the report embeds them).

Figures are built as :class:`matplotlib.figure.Figure` objects, never through pyplot, so
no backend is selected or switched: a notebook that imports chakong keeps its own.

Names from a scenario (agencies, regions) may be Chinese: plots are drawn with the CJK font
the install brings as a fallback (:mod:`sim.reporting.fonts`).
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

import numpy as np
from matplotlib.figure import Figure

from sim.reporting.fonts import cjk_plots
from sim.results.artifacts import Backlog

P = ParamSpec("P")

COLOURS = ("#4878a8", "#c44e52", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#8c8c8c")
DPI = 100


def drawn(draw: Callable[P, bytes | None]) -> Callable[P, bytes | None]:
    """Draw a figure with the CJK fallback fonts, and without warnings about glyphs that
    no installed font has."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> bytes | None:
        with cjk_plots():
            return draw(*args, **kwargs)

    return wrapper


def subplots(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[Figure, Any]:
    """A figure and its axes, as ``pyplot.subplots`` gives them, without pyplot: a bare
    :class:`~matplotlib.figure.Figure`, drawn to PNG by :func:`png` (no backend involved)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def colour(k: int) -> str:
    return COLOURS[k % len(COLOURS)]


# ---------------------------------------------------------------- distributions


@drawn
def distribution(
    series: Mapping[str, Sequence[int]], what: str, means: Mapping[str, float] | None = None
) -> bytes | None:
    """Share of cases per whole day, one step line per scenario (cut at the 99.5th
    percentile of the widest), with each scenario's mean (the table's, when given; else
    from the whole days). None when no scenario has a case."""
    shown = {k: np.asarray(v, dtype=float) for k, v in series.items() if sum(v) > 0}
    if not shown:
        return None
    cut = 1
    for counts in shown.values():
        cdf = np.cumsum(counts) / counts.sum()
        cut = max(cut, int(np.searchsorted(cdf, 0.995)) + 1)
    fig, ax = subplots(figsize=(8, 4.2))
    for k, (label, counts) in enumerate(shown.items()):
        share = counts[:cut] / counts.sum()
        days = np.arange(len(share))
        mean = (means or {}).get(label, math.nan)
        if not math.isfinite(mean):
            mean = float((np.arange(len(counts)) + 0.5) @ counts / counts.sum())
        if len(shown) == 1:
            ax.bar(days, share, width=1.0, align="edge", color=colour(k), label=label)
        else:
            ax.step(days, share, where="post", color=colour(k), label=label)
        ax.axvline(
            mean,
            color=colour(k),
            linestyle="--",
            linewidth=1,
            label=f"{label}: mean {mean:.1f} days",
        )
    ax.set_xlabel(f"{what} (days)")
    ax.set_ylabel("share of cases")
    ax.set_title(f"Distribution of {what}, replications pooled")
    ax.legend(fontsize=8, loc="best")  # explicit: no slowness warning
    return png(fig)


# ---------------------------------------------------------------- over time


@dataclass
class Series:
    """Backlog over time of one scenario: mean over replications and the range."""

    t: np.ndarray
    open_mean: np.ndarray
    open_lo: np.ndarray
    open_hi: np.ndarray
    pool_mean: np.ndarray

    @classmethod
    def of(cls, b: Backlog) -> Series:
        o = b.open_cases
        return cls(b.t, o.mean(0), o.min(0), o.max(0), b.pool.mean(0))


@drawn
def backlog(series: Mapping[str, Series], warmup: float) -> bytes | None:
    """Open cases and the terminated-for-now pool over time."""
    if not series:
        return None
    fig, (top, bottom) = subplots(2, 1, figsize=(8, 6.2), sharex=True)
    for k, (label, s) in enumerate(series.items()):
        c = colour(k)
        top.fill_between(s.t, s.open_lo, s.open_hi, color=c, alpha=0.2, linewidth=0)
        top.plot(s.t, s.open_mean, color=c, label=f"{label} (mean; band: range)")
        bottom.plot(s.t, s.pool_mean, color=c, label=label)
    for ax in (top, bottom):
        if warmup > 0:
            ax.axvspan(0, warmup, color="#cccccc", alpha=0.35, label="_warm-up")
    top.set_ylabel("open cases")
    top.set_title("Backlog: open cases over time")
    top.legend(fontsize=8, loc="upper left")
    bottom.set_ylabel("cases in the pool")
    bottom.set_title("Terminated-for-now pool over time (mean over replications)")
    bottom.set_xlabel("simulated days (grey: warm-up)")
    return png(fig)


# ---------------------------------------------------------------- queries by hour


@drawn
def queries_by_hour(
    per_scenario: Mapping[str, Mapping[tuple[str, str], Sequence[float]]],
) -> bytes | None:
    """Requests per day in each hour of the day: by channel (one line per channel and
    scenario) and, when the event log gave it, a heat map by channel and agency."""
    if not any(per_scenario.values()):
        return None
    hours = np.arange(24)
    first = next(iter(per_scenario.values()))
    by_agency = {k: v for k, v in first.items() if k[1]}
    ncols = 2 if by_agency and len(per_scenario) == 1 else 1
    fig, axes = subplots(1, ncols, figsize=(8 if ncols == 1 else 12, 4.4), squeeze=False)
    ax = axes[0][0]
    styles = ("-", "--", ":", "-.")
    for k, (label, data) in enumerate(per_scenario.items()):
        channels = sorted(ch for ch, agency in data if not agency)
        for j, ch in enumerate(channels):
            name = ch if len(per_scenario) == 1 else f"{label}: {ch}"
            ax.plot(
                hours,
                data[(ch, "")],
                color=colour(j),
                linestyle=styles[k % 4],
                marker="o",
                markersize=3,
                label=name,
            )
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlabel("hour of the day (request sent)")
    ax.set_ylabel("requests per day")
    ax.set_title("Query volume by channel and hour of day")
    ax.legend(fontsize=8, loc="best")  # explicit: no slowness warning
    if ncols == 2:
        ax = axes[0][1]
        keys = sorted(by_agency)
        grid = np.array([by_agency[k] for k in keys])
        image = ax.imshow(grid, aspect="auto", cmap="Blues")
        ax.set_yticks(range(len(keys)), [f"{ch} / {ag}" for ch, ag in keys], fontsize=8)
        ax.set_xticks(range(0, 24, 3))
        ax.set_xlabel("hour of the day (request sent)")
        ax.set_title("Requests per day by channel / agency and hour")
        fig.colorbar(image, ax=ax, label="requests per day")
    return png(fig)


# ---------------------------------------------------------------- comparisons


@dataclass
class ForestRow:
    metric: str
    scenario: str
    change: float  # difference as % of the base mean
    lo: float
    hi: float
    significant: bool


@drawn
def forest(rows: Sequence[ForestRow], base: str) -> bytes | None:
    """Paired differences against the base as % of the base mean, with 95% intervals."""
    rows = [r for r in rows if all(math.isfinite(v) for v in (r.change, r.lo, r.hi))]
    if not rows:
        return None
    metrics = list(dict.fromkeys(r.metric for r in rows))
    scenarios = list(dict.fromkeys(r.scenario for r in rows))
    height = 1.2 + 0.32 * len(metrics) * max(1, len(scenarios))
    fig, ax = subplots(figsize=(9, max(3.5, height)))
    step = 0.8 / max(1, len(scenarios))
    labelled: set[str] = set()
    for r in rows:
        i = metrics.index(r.metric)
        k = scenarios.index(r.scenario)
        y = i + (k - (len(scenarios) - 1) / 2) * step
        ax.errorbar(
            r.change,
            y,
            xerr=[[r.change - r.lo], [r.hi - r.change]],
            fmt="o",
            mfc=colour(k) if r.significant else "white",
            color=colour(k),
            capsize=3,
            label=None if r.scenario in labelled else r.scenario,
        )
        labelled.add(r.scenario)
    ax.axvline(0, color="#333333", linewidth=1)
    ax.set_yticks(range(len(metrics)), metrics, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"difference against {base}, % of the base mean (95% interval)")
    ax.set_title("Paired differences (filled: significant)")
    ax.legend(fontsize=8, loc="best")
    return png(fig)


# ---------------------------------------------------------------- sweeps


@dataclass
class Bar:
    metric: str
    input: str
    value: float
    lo: float = math.nan
    hi: float = math.nan
    first_order: float = math.nan


@drawn
def sensitivity(bars: Sequence[Bar], method: str) -> bytes | None:
    """SRCs with their intervals, or Sobol' first- and total-order indices, per metric."""
    if not bars:
        return None
    metrics = list(dict.fromkeys(b.metric for b in bars))
    inputs = list(dict.fromkeys(b.input for b in bars))
    fig, axes = subplots(
        1,
        len(metrics),
        figsize=(4.6 * len(metrics), 0.9 + 0.55 * len(inputs) + 1.2),
        squeeze=False,
        sharey=True,
    )
    y = np.arange(len(inputs))
    for m, ax in zip(metrics, axes[0], strict=True):
        mine = {b.input: b for b in bars if b.metric == m}
        vals = np.array([mine[i].value if i in mine else math.nan for i in inputs])
        if method == "sobol":
            first = np.array([mine[i].first_order if i in mine else math.nan for i in inputs])
            ax.barh(y - 0.2, first, height=0.4, color=colour(0), label="first order")
            ax.barh(y + 0.2, vals, height=0.4, color=colour(1), label="total order")
            ax.axvline(0.05, color="#8c8c8c", linestyle=":", linewidth=1)
            ax.set_xlabel("Sobol' index (share of variance)")
            ax.legend(fontsize=8, loc="best")  # explicit: no slowness warning
        else:
            lo = np.array([mine[i].lo if i in mine else math.nan for i in inputs])
            hi = np.array([mine[i].hi if i in mine else math.nan for i in inputs])
            err = np.vstack([np.nan_to_num(vals - lo), np.nan_to_num(hi - vals)])
            colours = [colour(0) if v >= 0 else colour(1) for v in np.nan_to_num(vals)]
            ax.barh(y, np.nan_to_num(vals), xerr=err, color=colours, capsize=3)
            ax.axvline(0, color="#333333", linewidth=1)
            ax.set_xlabel("SRC (95% interval)")
        ax.set_title(m, fontsize=9)
        ax.set_yticks(y, inputs, fontsize=8)
    axes[0][0].invert_yaxis()
    return png(fig)


@drawn
def sweep_scatter(
    inputs: Sequence[str],
    targets: Sequence[str],
    x: Mapping[str, Sequence[float]],
    y: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
) -> bytes | None:
    """Each target metric's point means (with 95% intervals) against each input."""
    if not inputs or not targets:
        return None
    fig, axes = subplots(
        len(targets),
        len(inputs),
        figsize=(3.8 * len(inputs) + 0.6, 3.0 * len(targets) + 0.4),
        squeeze=False,
    )
    for r, m in enumerate(targets):
        mean, lo, hi = (np.asarray(v, dtype=float) for v in y[m])
        err = np.vstack([np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)])
        for c, name in enumerate(inputs):
            ax = axes[r][c]
            ax.errorbar(
                x[name],
                mean,
                yerr=err,
                fmt="o",
                color=colour(r),
                markersize=4,
                capsize=2,
                linewidth=1,
            )
            if r == len(targets) - 1:
                ax.set_xlabel(name, fontsize=8)
            if c == 0:
                ax.set_ylabel(m, fontsize=8)
            ax.tick_params(labelsize=8)
    fig.suptitle("Point means (95% intervals) against each input", fontsize=10)
    return png(fig)
