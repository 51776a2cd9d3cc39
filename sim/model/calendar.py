"""Working-time arithmetic on the simulation clock.

Simulated time is a float in days since the scenario's ``start_date`` at 00:00. A
:class:`WorkingTime` answers three questions about one weekly calendar (open days and one
daily window): when is the next open moment, when does a piece of work measured in
*working days* end, and when is the next polling instant. :class:`CalendarYears` maps the
clock to calendar years (the provident-fund cap counts per calendar year).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math

from sim.scenario.schema import WEEKDAYS, WorkingCalendar


class WorkingTime:
    """One weekly calendar placed on the simulation clock.

    A working day is one daily window (``open`` to ``close``); work of ``w`` working days
    therefore takes ``w`` windows of open time, spread over as many calendar days as needed.
    A calendar open all week from 00:00 to 24:00 is continuous time (the M/M/c case).
    """

    def __init__(self, calendar: WorkingCalendar, start_date: dt.date) -> None:
        self.open = calendar.open_fraction
        self.close = calendar.close_fraction
        self.window = self.close - self.open
        first = start_date.weekday()  # Monday is 0
        open_days = {WEEKDAYS.index(d) for d in calendar.days}
        # open_by_offset[k]: is day k (mod 7) after the start an open day?
        self.open_by_offset = tuple(((first + k) % 7) in open_days for k in range(7))
        self.open_days_per_week = sum(self.open_by_offset)
        self.continuous = self.open_days_per_week == 7 and self.open == 0.0 and self.close == 1.0

    def _day_open(self, day: int) -> bool:
        return self.open_by_offset[day % 7]

    def is_open(self, t: float) -> bool:
        if self.continuous:
            return True
        day = math.floor(t)
        tod = t - day
        return self._day_open(day) and self.open <= tod < self.close

    def next_open(self, t: float) -> float:
        """The first open moment at or after ``t``."""
        if self.continuous:
            return t
        day = math.floor(t)
        tod = t - day
        if self._day_open(day) and tod < self.close:
            return day + max(tod, self.open)
        for k in range(1, 8):
            if self._day_open(day + k):
                return day + k + self.open
        raise AssertionError("a validated calendar has at least one open day")

    def advance(self, t: float, work_days: float) -> float:
        """When work of ``work_days`` working days, started at ``t``, is finished."""
        if self.continuous:
            return t + work_days
        remaining = work_days * self.window  # in days of open time
        t = self.next_open(t)
        per_week = self.open_days_per_week * self.window
        while True:
            day = math.floor(t)
            left_today = day + self.close - t
            if remaining <= left_today + 1e-12:
                return t + remaining
            remaining -= left_today
            if remaining > per_week:  # skip whole weeks at once
                weeks = math.floor(remaining / per_week)
                if remaining - weeks * per_week == 0:
                    weeks -= 1
                remaining -= weeks * per_week
                day += 7 * weeks
            t = self.next_open(day + 1.0)

    def working_days_between(self, a: float, b: float) -> float:
        """Working days (open windows) that lie inside [a, b)."""
        if b <= a:
            return 0.0
        if self.continuous:
            return b - a
        total = 0.0
        for day in range(math.floor(a), math.ceil(b)):
            if self._day_open(day):
                lo = max(a, day + self.open)
                hi = min(b, day + self.close)
                if hi > lo:
                    total += hi - lo
        return total / self.window

    def next_poll(self, t: float, interval_days: float) -> float:
        """The first polling instant at or after ``t``.

        Polls fall on multiples of ``interval_days`` counted from each midnight, and only
        inside the open window; an interval of 0 means continuous pick-up while open.
        """
        if self.continuous:
            if interval_days <= 0:
                return t
            return max(t, math.ceil(t / interval_days - 1e-9) * interval_days)
        t = self.next_open(t)
        if interval_days <= 0:
            return t
        while True:
            day = math.floor(t)
            tod = t - day
            slot = math.ceil(tod / interval_days - 1e-9) * interval_days
            if slot < self.close - 1e-9 and self._day_open(day):
                return max(t, day + slot)
            t = self.next_open(day + 1.0)


class CalendarYears:
    """Calendar-year boundaries on the simulation clock."""

    def __init__(self, start_date: dt.date, years: int = 60) -> None:
        self.first_year = start_date.year
        self.starts = [
            float((dt.date(start_date.year + k, 1, 1) - start_date).days) for k in range(years + 1)
        ]

    def year_of(self, t: float) -> int:
        """The calendar year (e.g. 2023) that contains time ``t``."""
        return self.first_year + bisect.bisect_right(self.starts, t) - 1

    def next_year_start(self, t: float) -> float:
        """Time of the first 1 January strictly after ``t``."""
        k = bisect.bisect_right(self.starts, t)
        if k >= len(self.starts):
            raise ValueError(f"time {t} is beyond the calendar's range")
        return self.starts[k]
