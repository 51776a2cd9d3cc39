"""Working-time arithmetic: exact answers on small calendars."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from sim.model.calendar import CalendarYears, WorkingTime
from sim.scenario.schema import ALWAYS_OPEN, WorkingCalendar

MONDAY = dt.date(2023, 1, 2)
H = 1 / 24
OFFICE = WorkingCalendar(days="weekdays", open="09:00", close="17:00")


def test_continuous_calendar_is_plain_time():
    w = WorkingTime(ALWAYS_OPEN, MONDAY)
    assert w.continuous
    assert w.next_open(3.3) == 3.3
    assert w.advance(3.3, 2.5) == pytest.approx(5.8)
    assert w.working_days_between(1, 11) == 10
    assert w.next_poll(0.01, 1 / 48) == pytest.approx(1 / 48)


def test_next_open_skips_nights_and_weekends():
    w = WorkingTime(OFFICE, MONDAY)
    assert w.next_open(0.0) == pytest.approx(9 * H)  # Monday 00:00 -> 09:00
    assert w.next_open(0.5) == pytest.approx(0.5)  # Monday 12:00 is open
    assert w.next_open(4 + 18 * H) == pytest.approx(7 + 9 * H)  # Friday 18:00 -> Monday


def test_advance_counts_working_days_only():
    w = WorkingTime(OFFICE, MONDAY)
    # half a working day (4 hours) from Monday 15:00: 2 hours Monday, 2 hours Tuesday
    assert w.advance(15 * H, 0.5) == pytest.approx(1 + 11 * H)
    # one working day from Friday 09:00 ends Friday 17:00; two end Monday 17:00
    assert w.advance(4 + 9 * H, 1) == pytest.approx(4 + 17 * H)
    assert w.advance(4 + 9 * H, 2) == pytest.approx(7 + 17 * H)
    # twelve working days from Monday 09:00: two full weeks, then Monday and Tuesday
    assert w.advance(9 * H, 12) == pytest.approx(15 + 17 * H)


def test_working_days_between_counts_windows():
    w = WorkingTime(OFFICE, MONDAY)
    assert w.working_days_between(0, 7) == pytest.approx(5)
    assert w.working_days_between(13 * H, 1) == pytest.approx(0.5)


def test_registry_polls_every_20_minutes_inside_its_window():
    registry = WorkingTime(WorkingCalendar(days="weekdays", open="08:00", close="18:00"), MONDAY)
    step = 20 / 1440
    assert registry.next_poll(0.0, step) == pytest.approx(8 * H)
    assert registry.next_poll(8 * H + 0.001, step) == pytest.approx(8 * H + step)
    assert registry.next_poll(18 * H, step) == pytest.approx(1 + 8 * H)  # after close: tomorrow
    assert registry.next_poll(5 + 12 * H, step) == pytest.approx(7 + 8 * H)  # Saturday noon


@settings(max_examples=200, deadline=None)
@given(t=hs.floats(0, 60), work=hs.floats(0, 12), interval=hs.sampled_from([0, 1 / 48, 1 / 72]))
def test_calendar_properties(t, work, interval):
    w = WorkingTime(OFFICE, MONDAY)
    start = w.next_open(t)
    assert start >= t and w.is_open(start)
    end = w.advance(t, work)
    assert end >= start
    assert w.working_days_between(start, end) == pytest.approx(work, abs=1e-6)
    poll = w.next_poll(t, interval)
    assert poll >= t and w.is_open(poll)


def test_calendar_years():
    years = CalendarYears(dt.date(2022, 9, 1))
    assert years.year_of(0) == 2022
    assert years.year_of(122) == 2023  # 2023-01-01
    assert years.next_year_start(0) == 122
    assert years.next_year_start(122) == 122 + 365
