"""Which inputs drive a metric: standardised regression coefficients and Sobol' indices.

- **Standardised regression coefficients** (SRC): the metric's mean at each design point
  is regressed, by least squares (numpy), on the inputs, both standardised (mean 0,
  standard deviation 1). A coefficient is the change in the metric, in its standard
  deviations, for one standard deviation of the input, the others held; its 95% interval
  comes from the ordinary least-squares standard errors and the t distribution (scipy).
  The coefficients describe the metric well only when the linear fit does (R² near 1); an
  input whose interval excludes 0 is named a driver, the strongest first.
- **Sobol' indices** (``--design sobol``): the points are Saltelli's A, B and AB matrices,
  and :func:`scipy.stats.sobol_indices` gives each input's first-order index (its share of
  the metric's variance alone) and total-order index (with its interactions). Inputs whose
  total-order index is at least :data:`SOBOL_DRIVER` are named drivers. These indices need
  many points (``n (d + 2)``); with few, they are rough.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import stdtrit  # scipy.stats.t's quantile; scipy.stats takes 1.5 s to import

SOBOL_DRIVER = 0.05
"""A total-order Sobol' index of at least 5% of the variance names an input a driver."""


@dataclass(frozen=True)
class Effect:
    """One input's effect on one metric."""

    input: str
    value: float  # SRC, or the total-order Sobol' index
    ci95: tuple[float, float] = (math.nan, math.nan)
    first_order: float = math.nan  # Sobol' only
    driver: bool = False

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Effect:
        lo, hi = obj["ci95"]
        return cls(
            obj["input"],
            _num(obj["value"]),
            (_num(lo), _num(hi)),
            _num(obj["first_order"]),
            obj["driver"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "value": _finite(self.value),
            "ci95": [_finite(self.ci95[0]), _finite(self.ci95[1])],
            "first_order": _finite(self.first_order),
            "driver": self.driver,
        }


@dataclass
class Sensitivity:
    """How a metric depends on the inputs of a sweep."""

    metric: str
    method: str  # "src" or "sobol"
    points: int  # design points used
    effects: list[Effect] = field(default_factory=list)  # strongest first
    r2: float = math.nan  # SRC: share of variance the linear fit explains
    note: str = ""

    @property
    def drivers(self) -> list[str]:
        return [e.input for e in self.effects if e.driver]

    def verdict(self) -> str:
        """One sentence naming the drivers."""
        if self.note and not self.effects:
            return self.note
        if self.method == "src":
            fit = f"R² {self.r2:.2f} over {self.points} points"
            if not self.drivers:
                text = f"{fit}: no input's coefficient is distinguishable from 0"
            else:
                named = ", then ".join(
                    f"{e.input} ({e.value:+.2f})" for e in self.effects if e.driver
                )
                text = f"{fit}: driven by {named}"
            if self.r2 < 0.5:
                text += "; the linear fit explains little, read the coefficients with care"
        else:
            named = ", then ".join(
                f"{e.input} (total {e.value:.2f})" for e in self.effects if e.driver
            )
            text = f"Sobol' indices over {self.points} points: " + (
                f"driven by {named}" if named else "no input reaches a total index of 0.05"
            )
        return text + (f" ({self.note})" if self.note else "")

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Sensitivity:
        return cls(
            obj["metric"],
            obj["method"],
            obj["points"],
            [Effect.from_json(e) for e in obj["effects"]],
            _num(obj["r2"]),
            obj["note"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "method": self.method,
            "points": self.points,
            "r2": _finite(self.r2),
            "drivers": self.drivers,
            "effects": [e.to_json() for e in self.effects],
            "note": self.note,
        }


def standardised_regression(
    x: np.ndarray, y: Sequence[float] | np.ndarray, inputs: Sequence[str], metric: str
) -> Sensitivity:
    """SRCs of ``y`` (one value per design point) on the columns of ``x``."""
    x = np.asarray(x, dtype=float)
    y_arr = np.asarray(y, dtype=float)
    keep = np.isfinite(y_arr)
    x, y_arr = x[keep], y_arr[keep]
    n = len(y_arr)
    missing = int((~keep).sum())
    note = f"{missing} points without the metric left out" if missing else ""
    if n < 3:
        return Sensitivity(metric, "src", n, note="too few points with this metric")
    if np.std(y_arr) == 0:
        return Sensitivity(metric, "src", n, note="the metric does not vary over the design")
    sx = x.std(axis=0)
    used = [j for j in range(x.shape[1]) if sx[j] > 0]
    z = (x[:, used] - x[:, used].mean(axis=0)) / sx[used]
    zy = (y_arr - y_arr.mean()) / y_arr.std()
    design = np.column_stack([np.ones(n), z])
    beta, *_ = np.linalg.lstsq(design, zy, rcond=None)
    fitted = design @ beta
    rss = float(((zy - fitted) ** 2).sum())
    tss = float((zy**2).sum())
    r2 = 1 - rss / tss if tss else math.nan
    dof = n - design.shape[1]
    if dof >= 1:
        cov = rss / dof * np.linalg.pinv(design.T @ design)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        t = float(stdtrit(dof, 0.975))
    else:
        se, t = np.full(len(beta), math.nan), math.nan
        note = _join(note, f"no intervals: {n} points for {len(used)} inputs")
    effects = []
    for k, j in enumerate(used, start=1):
        lo, hi = beta[k] - t * se[k], beta[k] + t * se[k]
        driver = bool(math.isfinite(lo) and (lo > 0 or hi < 0))
        effects.append(Effect(inputs[j], float(beta[k]), (float(lo), float(hi)), driver=driver))
    for j in range(x.shape[1]):
        if j not in used:
            effects.append(Effect(inputs[j], math.nan))
            note = _join(note, f"{inputs[j]} does not vary")
    effects.sort(key=lambda e: -abs(e.value) if math.isfinite(e.value) else 0.0)
    return Sensitivity(metric, "src", n, effects, r2, note)


def sobol(
    f_a: Sequence[float] | np.ndarray,
    f_b: Sequence[float] | np.ndarray,
    f_ab: Sequence[Sequence[float]] | np.ndarray,
    inputs: Sequence[str],
    metric: str,
) -> Sensitivity:
    """Sobol' indices from the metric at Saltelli's A, B and AB points (``f_ab[i]`` is the
    metric at A with input ``i`` taken from B)."""
    from scipy.stats import sobol_indices

    a, b, ab = (np.asarray(v, dtype=float) for v in (f_a, f_b, f_ab))
    n = len(a)
    points = n * (len(inputs) + 2)
    if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(ab).all()):
        return Sensitivity(metric, "sobol", points, note="the metric is missing at some points")
    if np.var(np.concatenate([a, b])) == 0:
        return Sensitivity(metric, "sobol", points, note="the metric does not vary over A and B")
    res = sobol_indices(func={"f_A": a[None, :], "f_B": b[None, :], "f_AB": ab[:, None, :]}, n=n)
    first = np.atleast_1d(np.squeeze(res.first_order))
    total = np.atleast_1d(np.squeeze(res.total_order))
    effects = [
        Effect(
            name,
            float(total[i]),
            first_order=float(first[i]),
            driver=bool(total[i] >= SOBOL_DRIVER),
        )
        for i, name in enumerate(inputs)
    ]
    effects.sort(key=lambda e: -e.value)
    return Sensitivity(metric, "sobol", points, effects)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _num(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _finite(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else v
