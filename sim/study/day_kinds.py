"""Kinds of calendar day on the simulation clock: working day, weekend, public holiday.

Day ``d`` of the clock is ``start_date + d``. A working day is Monday to Friday unless it is
a public holiday, or a weekend day the holiday calendar makes a working day (调休: a make-up
working day); a weekend day is Saturday or Sunday that is neither; a public holiday is a day
the scenario's holiday calendar closes (法定节假日; ``holidays``, China's by default). With
``holidays = "none"`` there are only working days and weekends.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection
from typing import ClassVar

from sim.scenario.holidays import load_holidays
from sim.scenario.schema import Scenario


class DayKinds:
    """The kind of each day of one scenario's clock."""

    WORKING: ClassVar[str] = "working_day"
    WEEKEND: ClassVar[str] = "weekend"
    HOLIDAY: ClassVar[str] = "public_holiday"
    KINDS: ClassVar[tuple[str, ...]] = (WORKING, WEEKEND, HOLIDAY)

    def __init__(
        self,
        start_date: dt.date,
        holidays: Collection[dt.date] = (),
        make_up_days: Collection[dt.date] = (),
    ) -> None:
        self.start = start_date
        self.holidays = frozenset(holidays)
        self.make_up_days = frozenset(make_up_days)
        self._cache: dict[int, str] = {}

    @classmethod
    def of(cls, scenario: Scenario) -> DayKinds:
        """The kinds of day of ``scenario``, with its holiday calendar when it names one."""
        holidays, make_up = holiday_calendar(scenario)
        return cls(scenario.start_date, holidays, make_up)

    @property
    def has_holidays(self) -> bool:
        return bool(self.holidays)

    def kind(self, day: int) -> str:
        """The kind of day ``day`` of the clock."""
        hit = self._cache.get(day)
        if hit is None:
            date = self.start + dt.timedelta(days=day)
            if date in self.holidays:
                hit = self.HOLIDAY
            elif date.weekday() < 5 or date in self.make_up_days:
                hit = self.WORKING
            else:
                hit = self.WEEKEND
            self._cache[day] = hit
        return hit

    def count(self, lo: float, hi: float) -> dict[str, int]:
        """How many days of each kind start inside ``[lo, hi)``."""
        out = dict.fromkeys(self.KINDS, 0)
        for day in range(math.ceil(lo), math.ceil(hi)):
            out[self.kind(day)] += 1
        return out


def holiday_calendar(scenario: Scenario) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """(public holidays, make-up working days) of the scenario's holiday calendar
    (``holidays``, :mod:`sim.scenario.holidays`); both empty for ``"none"``."""
    holidays = load_holidays(scenario.holidays)
    return holidays.off, holidays.worked
