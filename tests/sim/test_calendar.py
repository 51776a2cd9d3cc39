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


def test_calendars_alike_share_their_days_and_others_do_not():
    """Open-day flags are facts of the start date, the week and the holidays: computed once
    for every calendar with the same three, whatever their hours, and answered alike."""
    from sim.scenario.holidays import load_holidays

    cn = load_holidays("cn")
    start = dt.date(2031, 7, 4)  # a start no other test uses: these days are computed here
    office = WorkingTime(OFFICE, start, cn)
    late = WorkingTime(WorkingCalendar(days="weekdays", open="13:00", close="21:00"), start, cn)
    other_week = WorkingTime(WorkingCalendar(days="all", open="09:00", close="17:00"), start, cn)
    assert office._open is late._open and office._cum is late._cum
    assert office._open is not other_week._open
    late.advance(0.0, 400)  # extends the shared days over more than a year
    assert len(office._open) > 400
    alone = [
        cn.is_working_day(start + dt.timedelta(days=k), k % 7 not in (1, 2)) for k in range(500)
    ]
    assert office._open[:500] == alone  # 2031-07-04 is a Friday: days 1 and 2 are weekends
    assert [office._cum[k + 1] - office._cum[k] for k in range(500)] == alone


def test_days_shared_between_threads_are_extended_once_and_in_order():
    """Replications may run in threads of one process (Dask): calendars extending the same
    days at once leave each flag once, with its running count."""
    import threading

    start = dt.date(2032, 2, 2)
    calendars = [WorkingTime(OFFICE, start) for _ in range(6)]
    barrier = threading.Barrier(len(calendars))

    def extend(w: WorkingTime) -> None:
        barrier.wait()
        for day in range(0, 5000, 97):
            w.day_open(day)

    threads = [threading.Thread(target=extend, args=(w,)) for w in calendars]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flags, cum = calendars[0]._open, calendars[0]._cum
    assert len(flags) % 366 == 0 and len(cum) == len(flags) + 1
    assert flags == [k % 7 < 5 for k in range(len(flags))]  # a Monday start, no holidays
    assert all(cum[k + 1] - cum[k] == flags[k] for k in range(len(flags)))


@settings(max_examples=300, deadline=None)
@given(t=hs.floats(0, 700), work=hs.floats(0, 300))
def test_work_ends_after_as_many_working_days_across_holidays(t, work):
    """Long work across Spring Festival and Golden Week (China's calendar, 调休 included):
    it ends at the first moment that many windows of open time after its start."""
    from sim.scenario.holidays import load_holidays

    w = WorkingTime(OFFICE, dt.date(2024, 1, 1), load_holidays("cn"))
    start = w.next_open(t)
    end = w.advance(t, work)
    assert end >= start and (work == 0 or w.is_open(end) or w.is_open(end - 1e-9))
    assert w.working_days_between(start, end) == pytest.approx(work, abs=1e-6)
