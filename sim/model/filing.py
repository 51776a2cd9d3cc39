"""Filing: cases arrive in each region as a Poisson process whose rate may vary by month,
in the court's office hours (:class:`OfficeFilings`).

The rate is piecewise constant over calendar months (the region's ``arrival_rate_per_day``
times that month's factor). Arrival times come from inverting the cumulative rate: each
arrival consumes one unit-exponential draw, so a scenario that changes a rate keeps the
same draws (common random numbers).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from array import array
from collections.abc import Sequence
from typing import Final

import numpy as np

from sim.model.calendar import WorkingTime

# bisect's function held in a C variable (Final), not looked up by name at each call
_bisect_right: Final = bisect.bisect_right


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


class ArrivalTimes:
    """Successive arrival times of ``rate``'s Poisson process (inf when done), from unit
    exponential draws of ``rng`` taken ``block`` at a time. A compiled class: its
    :meth:`next` is called directly, once a filing."""

    def __init__(self, rate: MonthlyRate, rng: np.random.Generator, block: int = 256) -> None:
        self.rate = rate
        self._rng = rng
        self._block = block
        self._buffer: list[float] = []
        self.t = 0.0

    def next(self) -> float:
        buffer = self._buffer
        if not buffer:
            buffer.extend(reversed(self._rng.exponential(1.0, self._block).tolist()))
        self.t = self.rate.next_arrival(self.t, buffer.pop())
        return self.t


class OfficeFilings:
    """Places filings in office hours: each month's arrivals, drawn on the calendar clock,
    are spread over that month's working days, and within a day by the hourly weights.

    The map is monotone (a time change of the Poisson process), so a month keeps its count
    and a scenario keeps its draws (common random numbers). A calendar open around the
    clock files around the clock."""

    def __init__(
        self, rate: MonthlyRate, calendar: WorkingTime, hour_weights: Sequence[float]
    ) -> None:
        self.rate = rate
        self.calendar = calendar
        self.continuous = calendar.continuous
        self.days: list[array[int]] = []  # working days of each month segment (typed)
        for i in range(len(rate.rates)):
            first, last = math.ceil(rate.starts[i]), math.ceil(rate.starts[i + 1])
            self.days.append(array("q", (d for d in range(first, last) if calendar.day_open(d))))
        # the within-day distribution: piecewise uniform over the window, by hour
        xs: list[float] = [calendar.open]
        cum: list[float] = [0.0]
        for hour, weight in enumerate(hour_weights):
            lo = max(hour / 24, calendar.open)
            hi = min((hour + 1) / 24, calendar.close)
            if hi > lo:
                xs.append(hi)
                cum.append(cum[-1] + weight * (hi - lo))
        self.xs = xs
        self.cum = [c / cum[-1] for c in cum]

    def time_of_day(self, share: float) -> float:
        """The time of day (a fraction) below which ``share`` of a day's filings fall."""
        k = min(max(_bisect_right(self.cum, share), 1), len(self.cum) - 1)
        lo, hi = self.cum[k - 1], self.cum[k]
        frac = (share - lo) / (hi - lo) if hi > lo else 0.0
        return self.xs[k - 1] + frac * (self.xs[k] - self.xs[k - 1])

    def place(self, t: float) -> float:
        """The office-hours filing time of an arrival drawn at calendar time ``t``."""
        if self.continuous or t == math.inf:
            return t
        i = self.rate._segment(t)
        days = self.days[i]
        if not days:
            return t
        start, end = self.rate.starts[i], self.rate.starts[i + 1]
        u = (t - start) / (end - start) * len(days)
        j = min(int(u), len(days) - 1)
        return days[j] + self.time_of_day(u - j)
