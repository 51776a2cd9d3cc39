"""The clock's events of a later hour with their times unboxed (``sim/model/_later.c``)
give what the Python columns (``clock._Later``) give: the same events in the same order
(by time, then priority, then order of scheduling), the same times and priorities; a NaN
time is left to Python's sort; the events are let go once given or once the hour is
dropped, cycles through it included."""

from __future__ import annotations

import gc
import math
import sys
import weakref

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from sim.model import clock


def _compiled():
    try:
        from sim.model import _later
    except ImportError:  # pragma: no cover - an install without a C compiler
        pytest.skip("sim.model._later was not built (no C compiler at install)")
    return _later


times = hs.sampled_from([0.0, -0.0, 1.0, 1.0, 2.5, math.inf]) | hs.floats(-5, 5)
priorities = hs.sampled_from([1, 1, 1, 1, 0, -1])  # NORMAL mostly; URGENT; a stop's -1
hours = hs.lists(hs.tuples(times, priorities), max_size=80)


def _fill(later, add, hour):
    events = [object() for _ in hour]
    for (t, p), event in zip(hour, events, strict=True):
        if p != 1:
            later.prioritise(p)
        add(later, t, event)
    return events


@given(hours)
def test_an_hour_in_c_gives_what_the_python_columns_give(hour) -> None:
    _later = _compiled()
    mine, theirs = _later.Later(), clock._Later()
    events = _fill(mine, _later.add, hour)
    _fill(theirs, clock._add_python, hour)
    theirs.events = list(events)  # the same objects in both, so they compare by identity
    assert len(mine) == len(theirs) == len(hour)
    assert mine.first_time() == (min(t for t, _ in hour) if hour else math.inf)
    times, kept, noted = mine.columns()
    assert times == [t for t, _ in hour] and kept == events
    assert noted == {k: p for k, (_, p) in enumerate(hour) if p != 1}
    got, want = mine.in_order(), theirs.in_order()
    assert got[0] == want[0]  # the same events, in the same order (by identity)
    assert got[1] == want[1] and got[2] == want[2]
    if not any(p != 1 for _, p in hour):  # SimPy's order: time, then order of scheduling
        assert got[0] == [events[k] for k in sorted(range(len(hour)), key=lambda k: hour[k][0])]
    assert len(mine) == 0  # given away: the hour is empty


# a busy hour (at least RADIX_MIN events, all NORMAL) is ordered by the times' bits, not
# by comparisons: many equal times, both zeros, negative and infinite times among them
busy = hs.lists(
    hs.tuples(
        hs.sampled_from([0.0, -0.0, 0.5, 0.5, -1.5, math.inf]) | hs.floats(-5, 5), hs.just(1)
    ),
    min_size=256,
    max_size=700,
)


@given(busy)
def test_a_busy_hour_gives_simpys_order_too(hour) -> None:
    _later = _compiled()
    mine = _later.Later()
    events = _fill(mine, _later.add, hour)
    got, times, priorities = mine.in_order()
    order = sorted(range(len(hour)), key=lambda k: hour[k][0])  # a stable sort: ties in order
    assert got == [events[k] for k in order] and priorities is None
    assert [math.copysign(1, t) for t in times] == [math.copysign(1, hour[k][0]) for k in order]


def test_a_nan_time_is_left_to_pythons_sort_as_the_clock_does() -> None:
    _later = _compiled()
    later = _later.Later()
    events = ["a", "b", "c"]
    for t, event in zip([2.0, math.nan, 1.0], events, strict=True):
        _later.add(later, t, event)
    assert later.in_order() is None and later.first_time() is None
    order = clock._Later.of(*later.columns()).in_order()
    python = clock._Later()
    for t, event in zip([2.0, math.nan, 1.0], events, strict=True):
        clock._add_python(python, t, event)
    assert order[0] == python.in_order()[0]


def test_the_events_are_let_go_once_given_and_with_the_hour() -> None:
    _later = _compiled()
    event = object()
    held = sys.getrefcount(event)
    later = _later.Later()
    _later.add(later, 1.0, event)
    assert sys.getrefcount(event) == held + 1
    given_events, _, _ = later.in_order()
    del later
    assert sys.getrefcount(event) == held + 1  # the list given holds it now
    del given_events
    assert sys.getrefcount(event) == held
    dropped = _later.Later()
    _later.add(dropped, 1.0, event)
    del dropped
    assert sys.getrefcount(event) == held


def test_a_cycle_through_an_hour_is_collected() -> None:
    _later = _compiled()

    class Event:
        pass

    event = Event()
    later = _later.Later()
    _later.add(later, 1.0, event)
    event.hour = later  # the hour holds the event, the event the hour
    seen = weakref.ref(event)
    del event, later
    gc.collect()
    assert seen() is None


def test_what_is_not_a_time_fails_clearly() -> None:
    _later = _compiled()
    with pytest.raises(TypeError):
        _later.add(_later.Later(), "soon", object())
    with pytest.raises(TypeError):
        _later.add([], 1.0, object())
    with pytest.raises(TypeError):
        _later.Later(3)


def test_taking_a_due_event_leaves_none_and_moves_its_reference() -> None:
    _later = _compiled()
    events = [object() for _ in range(20)]
    due, held = list(events), sys.getrefcount(events[3])
    # near the end too, where there is nothing ahead to ask for
    same = [_later.take_due(due, i) is events[i] for i in (3, 0, 19, 12)]
    now = sys.getrefcount(events[3])  # outside an assert, whose rewriting holds its parts
    assert now == held - 1  # the list's reference went with it
    assert same == [True] * 4
    assert due == [None if i in (0, 3, 12, 19) else e for i, e in enumerate(events)]
    assert clock._take_due is _later.take_due
    python = list(events)
    assert clock._take_due_python(python, 5) is events[5] and python[5] is None
    with pytest.raises(IndexError):
        _later.take_due(due, 20)
    with pytest.raises(IndexError):
        _later.take_due(due, -1)
    with pytest.raises(TypeError):
        _later.take_due(tuple(due), 1)
