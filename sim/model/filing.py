"""Filing: cases arrive in each region as a Poisson process whose rate may vary by month.

The rate is piecewise constant over calendar months (the region's ``arrival_rate_per_day``
times that month's factor). Arrival times come from inverting the cumulative rate: each
arrival consumes one unit-exponential draw, so a scenario that changes a rate keeps the
same draws (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence

import numpy as np


class MonthlyRate:
    """A Poisson rate, constant within each calendar month, on the simulation clock."""

    def __init__(
        self,
        rate_per_day: float,
        monthly_factors: Sequence[float],
        start_date: dt.date,
        horizon_days: float,
    ) -> None:
        # segments [starts[i], starts[i+1]) with rates[i], covering [0, horizon)
        self.starts: list[float] = [0.0]
        self.rates: list[float] = []
        day = start_date
        while self.starts[-1] < horizon_days:
            nxt = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            self.rates.append(rate_per_day * monthly_factors[day.month - 1])
            self.starts.append(self.starts[-1] + (nxt - day).days)
            day = nxt
        self.horizon = horizon_days

    def next_arrival(self, t: float, unit_exp: float) -> float:
        """The next arrival after ``t`` given a unit-exponential draw (inf past the horizon)."""
        i = self._segment(t)
        while i < len(self.rates):
            rate, end = self.rates[i], self.starts[i + 1]
            if rate > 0:
                step = unit_exp / rate
                if t + step < end:
                    return t + step if t + step < self.horizon else math.inf
                unit_exp -= (end - t) * rate
            t = end
            i += 1
        return math.inf

    def _segment(self, t: float) -> int:
        lo, hi = 0, len(self.rates) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= t:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def expected_between(self, a: float, b: float) -> float:
        """The expected number of arrivals in [a, b)."""
        total = 0.0
        for i, rate in enumerate(self.rates):
            lo, hi = max(a, self.starts[i]), min(b, self.starts[i + 1], self.horizon)
            if hi > lo:
                total += rate * (hi - lo)
        return total


def arrival_times(
    rate: MonthlyRate, rng: np.random.Generator, block: int = 256
) -> Callable[[], float]:
    """A generator-like function giving successive arrival times (inf when done)."""
    state = {"t": 0.0}
    buffer: list[float] = []

    def next_time() -> float:
        if not buffer:
            buffer.extend(reversed(rng.exponential(1.0, block).tolist()))
        state["t"] = rate.next_arrival(state["t"], buffer.pop())
        return state["t"]

    return next_time
