"""PNG plots of a run: the distribution of time to close and the backlog over time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.engine.replication import ReplicationResult
from sim.results.statistics import Summary


def time_to_close(
    path: Path, results: Sequence[ReplicationResult], summary: dict[str, Summary], title: str
) -> None:
    """Histogram of time to close (whole days), pooled over replications."""
    width = max((len(r.close_days_hist) for r in results), default=0)
    counts = np.zeros(max(width, 1))
    for r in results:
        counts[: len(r.close_days_hist)] += r.close_days_hist
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    if counts.sum() > 0:
        cut = int(np.searchsorted(np.cumsum(counts) / counts.sum(), 0.995)) + 1
        ax.bar(np.arange(cut), counts[:cut] / counts.sum(), width=1.0, color="#4878a8")
        for name, style in (("mean", "-"), ("p50", "--"), ("p90", ":")):
            s = summary.get(f"time_to_close_days_{name}")
            if s is not None and s.n:
                ax.axvline(
                    s.mean, color="#c44e52", linestyle=style, label=f"{name} {s.mean:.1f} days"
                )
        ax.legend()
    ax.set_xlabel("time to close (days)")
    ax.set_ylabel("share of closed cases")
    ax.set_title(f"{title}: time to close, {len(results)} replications pooled")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def backlog(path: Path, results: Sequence[ReplicationResult], warmup: float, title: str) -> None:
    """Open cases over time: the mean over replications and the range between them."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    n = min((len(r.backlog_times) for r in results), default=0)
    if n:
        t = np.asarray(results[0].backlog_times[:n])
        y = np.array([r.backlog_counts[:n] for r in results], dtype=float)
        ax.fill_between(
            t,
            y.min(axis=0),
            y.max(axis=0),
            color="#4878a8",
            alpha=0.25,
            label="range over replications",
        )
        ax.plot(t, y.mean(axis=0), color="#4878a8", label="open cases (mean)")
        pool = np.array([r.pool_counts[:n] for r in results], dtype=float)
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
    plt.close(fig)
