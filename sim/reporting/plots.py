"""PNG plots of a run folder: the distribution of time to close and the backlog over time.

Drawn from the folder's own files (``summary.json``, ``distributions.csv``,
``backlog.csv``, the manifest) as :class:`matplotlib.figure.Figure` objects, without
pyplot, so the caller's matplotlib backend is left alone, with the CJK fallback fonts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sim.reporting.data import RunData, load_run
from sim.reporting.fonts import cjk_plots
from sim.results.artifacts import Backlog

TIME_TO_CLOSE_PNG = "time_to_close.png"
BACKLOG_PNG = "backlog.png"


def write_run_plots(folder: Path) -> None:
    """``time_to_close.png`` and ``backlog.png`` of a run folder."""
    run = load_run(folder)
    with cjk_plots():
        _draw_run_plots(folder, run)


def _draw_run_plots(folder: Path, run: RunData) -> None:
    time_to_close(
        folder / TIME_TO_CLOSE_PNG,
        run.distributions.get("time_to_close", []),
        run.summary["metrics"],
        run.name,
        run.summary["replications"],
    )
    backlog(folder / BACKLOG_PNG, run.backlog, run.warmup, run.name)


def time_to_close(
    path: Path,
    cases_per_day: Sequence[int],
    metrics: Mapping[str, Any],
    title: str,
    replications: int,
) -> None:
    """Histogram of time to close (whole days), pooled over replications, with the mean,
    median and 90th percentile the summary gives."""
    counts = np.zeros(max(len(cases_per_day), 1))
    counts[: len(cases_per_day)] += cases_per_day
    fig = Figure(figsize=(8, 4.5), dpi=110)
    ax = fig.subplots()
    if counts.sum() > 0:
        cut = int(np.searchsorted(np.cumsum(counts) / counts.sum(), 0.995)) + 1
        ax.bar(np.arange(cut), counts[:cut] / counts.sum(), width=1.0, color="#4878a8")
        for name, style in (("mean", "-"), ("p50", "--"), ("p90", ":")):
            s = metrics.get(f"time_to_close_days_{name}")
            if s is not None and s["n"]:
                mean = s["mean"]
                ax.axvline(mean, color="#c44e52", linestyle=style, label=f"{name} {mean:.1f} days")
        ax.legend(loc="best")  # explicit: no slowness warning (an error under pytest)
    ax.set_xlabel("time to close (days)")
    ax.set_ylabel("share of closed cases")
    ax.set_title(f"{title}: time to close, {replications} replications pooled")
    fig.tight_layout()
    fig.savefig(path)


def backlog(path: Path, series: Backlog | None, warmup: float, title: str) -> None:
    """Open cases over time: the mean over replications and the range between them."""
    fig = Figure(figsize=(8, 4.5), dpi=110)
    ax = fig.subplots()
    if series is not None and len(series.t):
        t, y, pool = series.t, series.open_cases, series.pool
        ax.fill_between(
            t,
            y.min(axis=0),
            y.max(axis=0),
            color="#4878a8",
            alpha=0.25,
            label="range over replications",
        )
        ax.plot(t, y.mean(axis=0), color="#4878a8", label="open cases (mean)")
        if pool.any():
            ax.plot(
                t,
                pool.mean(axis=0),
                color="#8c8c8c",
                linestyle="--",
                label="terminated-for-now pool (mean)",
            )
        if warmup > 0:
            ax.axvspan(0, warmup, color="#cccccc", alpha=0.4, label="warm-up")
        ax.legend(loc="upper left")
    ax.set_xlabel("simulated days")
    ax.set_ylabel("cases")
    ax.set_title(f"{title}: backlog over time")
    fig.tight_layout()
    fig.savefig(path)
