"""Working-time arithmetic on the simulation clock.

Simulated time is a float in days since the scenario's ``start_date`` at 00:00. A
:class:`WorkingTime` places one working calendar (open days of the week, one daily window,
and the scenario's public holidays and make-up working days, 调休) on the clock, and
answers: when is the next open moment, when does a piece of work measured in *working
days* end, when is the next polling instant, and which moment of office hours does a thing
happen at that would otherwise fall outside them. :class:`CalendarYears` maps the clock to
calendar years (the provident-fund cap counts per calendar year).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import threading
from typing import Final

from sim.scenario.holidays import NO_HOLIDAYS, Holidays
from sim.scenario.schema import WEEKDAYS, WorkingCalendar

# bisect's functions held in C variables (Final), not looked up by name at each call
_bisect_right: Final = bisect.bisect_right

CHUNK: Final = 366  # days of open/closed flags computed at a time

_DAYS: dict[tuple[dt.date, tuple[bool, ...], Holidays], tuple[list[bool], list[int]]] = {}
_EXTENDING: Final = threading.Lock()


def _days(
    start: dt.date, weekly: tuple[bool, ...], holidays: Holidays
) -> tuple[list[bool], list[int]]:
    """The open-day flags and running counts of a calendar (see :class:`WorkingTime`),
    shared by every calendar with the same start, week and holidays."""
    key = (start, weekly, holidays)
    with _EXTENDING:
        days = _DAYS.get(key)
        if days is None:
            days = _DAYS[key] = ([], [0])
    return days


class WorkingTime:
    """One working calendar placed on the simulation clock.

    A working day is one daily window (``open`` to ``close``); work of ``w`` working days
    therefore takes ``w`` windows of open time, spread over as many calendar days as needed.
    A calendar open all week from 00:00 to 24:00 that keeps no holidays is continuous time
    (the M/M/c case).
    """

    def __init__(
        self, calendar: WorkingCalendar, start_date: dt.date, holidays: Holidays = NO_HOLIDAYS
    ) -> None:
        self.open = calendar.open_fraction
        self.close = calendar.close_fraction
        self.window = self.close - self.open
        self.start_date = start_date
        first = start_date.weekday()  # Monday is 0
        open_days = {WEEKDAYS.index(d) for d in calendar.days}
        # weekly[k]: is day k (mod 7) after the start an open day of the week?
        self.weekly = tuple(((first + k) % 7) in open_days for k in range(7))
        self.holidays = holidays if calendar.keeps_holidays else NO_HOLIDAYS
        self.continuous = (
            sum(self.weekly) == 7
            and self.open == 0.0
            and self.close == 1.0
            and self.holidays is NO_HOLIDAYS
        )
        # is day k open, and the open days in [0, k): facts of the start date, the week and
        # the holidays alone, so computed once a process and shared by every calendar with
        # the same three (each court's, each agency's polling and office hours, in every
        # replication); lists, which compiled code indexes directly
        self._open, self._cum = _days(start_date, self.weekly, self.holidays)

    def _extend(self, day: int) -> None:
        """Compute flags up to and including ``day`` (once for every calendar sharing them;
        under a lock, as Dask may run replications in threads of one process)."""
        with _EXTENDING:
            flags, cum = self._open, self._cum
            while len(flags) <= day:
                base = len(flags)
                for k in range(base, base + CHUNK):
                    date = self.start_date + dt.timedelta(days=k)
                    is_open = self.holidays.is_working_day(date, self.weekly[k % 7])
                    # the count first: a reader that sees day k's flag finds its count
                    cum.append(cum[-1] + is_open)
                    flags.append(is_open)

    def day_open(self, day: int) -> bool:
        """Is day ``day`` (days since the start) a working day of this calendar?"""
        if day < 0:
            return self.weekly[day % 7]
        if day >= len(self._open):
            self._extend(day)
        return self._open[day]

    def is_open(self, t: float) -> bool:
        if self.continuous:
            return True
        day = math.floor(t)
        tod = t - day
        return self.day_open(day) and self.open <= tod < self.close

    def next_open(self, t: float) -> float:
        """The first open moment at or after ``t``."""
        if self.continuous:
            return t
        day = math.floor(t)
        tod = t - day
        flags = self._open  # day_open(day), in line: this runs several times a matter
        if (flags[day] if 0 <= day < len(flags) else self.day_open(day)) and tod < self.close:
            return t if tod >= self.open else day + self.open
        return self.next_working_day(day + 1) + self.open

    def next_working_day(self, day: int) -> int:
        """The first working day at or after ``day``."""
        for k in range(day, day + 60):
            if self.day_open(k):
                return k
        raise ValueError("a calendar is closed for 60 days running: check its days and holidays")

    def advance(self, t: float, work_days: float) -> float:
        """When work of ``work_days`` working days, started at ``t``, is finished."""
        if self.continuous:
            return t + work_days
        t = self.next_open(t)
        day = math.floor(t)
        left_today = (day + self.close - t) / self.window  # in working days
        if work_days <= left_today + 1e-12:
            return t + work_days * self.window
        remaining = work_days - left_today
        j = max(1, math.ceil(remaining - 1e-12))  # the j-th working day after today
        cum = self._cum
        target = cum[day + 1] + j  # _cum covers day + 1: day_open(day) extended it
        while cum[-1] < target:
            self._extend(len(self._open))
        # the first k with cum[k] >= target (as bisect_left finds it), by jumps: a day adds
        # at most one to the count, so every k below i + (target - cum[i]) falls short
        # (from i = day + 1 + j, where that holds already); a few steps, not a bisection
        i = day + 1 + j
        while cum[i] < target:
            i += target - cum[i]
        end_day = i - 1
        return end_day + self.open + (remaining - (j - 1)) * self.window

    def working_days_between(self, a: float, b: float) -> float:
        """Working days (open windows) that lie inside [a, b)."""
        if b <= a:
            return 0.0
        if self.continuous:
            return b - a
        total = 0.0
        for day in range(math.floor(a), math.ceil(b)):
            if self.day_open(day):
                lo = max(a, day + self.open)
                hi = min(b, day + self.close)
                if hi > lo:
                    total += hi - lo
        return total / self.window

    def in_hours(self, t: float, u: float) -> float:
        """``t`` if it is an open moment; else the moment a share ``u`` (0 to 1) into the
        next working day's window: something due at ``t`` is done then."""
        if self.continuous or self.is_open(t):
            return t
        day = math.floor(t)
        if self.day_open(day) and t - day < self.open:
            return day + self.open + u * self.window
        return self.next_working_day(day + 1) + self.open + u * self.window

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
            if slot < self.close - 1e-9 and self.day_open(day):
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
        return self.first_year + _bisect_right(self.starts, t) - 1

    def index_of(self, t: float) -> int:
        """The number of the calendar year that contains ``t`` (0: the start date's)."""
        return _bisect_right(self.starts, t) - 1

    def next_year_start(self, t: float) -> float:
        """Time of the first 1 January strictly after ``t``."""
        k = _bisect_right(self.starts, t)
        if k >= len(self.starts):
            raise ValueError(f"time {t} is beyond the calendar's range")
        return self.starts[k]
