"""Statistics across replications: :func:`summarize` turns the values of a metric over
replications into a mean and a 95% t-interval. One replication's streaming statistics are
:class:`sim.results.observer.Observer`'s."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit

from sim.results.metrics import json_number


@dataclass(frozen=True)
class Summary:
    """A metric over replications: mean, 95% t-interval, and how many replications had it."""

    mean: float
    ci95: tuple[float, float]
    n: int

    @property
    def half_width(self) -> float:
        return (self.ci95[1] - self.ci95[0]) / 2

    def to_json(self) -> dict[str, object]:
        return {
            "mean": json_number(self.mean),
            "ci95": [json_number(v) for v in self.ci95],
            "n": self.n,
        }


def summarize(values: Iterable[float], confidence: float = 0.95) -> Summary:
    """Mean and t-interval of per-replication values (NaNs, where a replication had no
    observation of the metric, are left out and ``n`` says how many remained)."""
    x = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return Summary(math.nan, (math.nan, math.nan), 0)
    mean = float(x.mean())
    if n == 1:
        return Summary(mean, (math.nan, math.nan), 1)
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    if sem == 0:
        return Summary(mean, (mean, mean), n)
    lo, hi = t_interval(confidence, n - 1, mean, sem)
    return Summary(mean, (lo, hi), n)


def t_interval(confidence: float, dof: int, mean: float, sem: float) -> tuple[float, float]:
    """The t-interval ``mean + t * sem`` at the two tails, computed as
    ``scipy.stats.t.interval`` computes it (``stdtrit`` is its quantile function), to the
    last bit, without importing scipy.stats (about 1.5 s, paid again by every worker
    process)."""
    return (
        float(stdtrit(dof, (1.0 - confidence) / 2)) * sem + mean,
        float(stdtrit(dof, (1.0 + confidence) / 2)) * sem + mean,
    )


def summarize_positive(values: Iterable[float], confidence: float = 0.95) -> Summary:
    """Mean and interval of per-replication values that cannot be negative (counts, rates):
    the t-interval taken on the log scale by the delta method, ``mean / f`` to ``mean * f``
    with ``f = exp(t * sem / mean)``. It never goes below zero, holds the mean, and is wider
    above than below, as the sampling distribution of a small positive mean is; a mean of
    zero (no replication saw any) has the interval [0, 0]."""
    s = summarize(values, confidence)
    if s.n < 2 or math.isnan(s.mean) or s.ci95[0] == s.ci95[1]:
        return s
    if s.mean <= 0:
        return Summary(0.0, (0.0, 0.0), s.n)
    t_sem = s.ci95[1] - s.mean  # t quantile times the standard error
    f = math.exp(min(t_sem / s.mean, 700.0))
    return Summary(s.mean, (s.mean / f, s.mean * f), s.n)


def summarize_all(per_replication: Sequence[Mapping[str, float]]) -> dict[str, Summary]:
    names = list(per_replication[0]) if per_replication else []
    return {name: summarize(r[name] for r in per_replication) for name in names}


