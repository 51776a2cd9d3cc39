"""A desk's free times, a heap of doubles in C (or a list sifted by heapq where the install
had no compiler), hold what heapq's heap holds: the least is the same after every job."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from sim.model import free_times
from sim.model.free_times import FreeTimesPython

ends = hs.floats(0, 1e6, allow_nan=False)
jobs = hs.lists(hs.tuples(ends, hs.floats(0, 1e3, allow_nan=False)), max_size=200)


def _compiled():
    try:
        from sim.model._free_times import FreeTimes
    except ImportError:  # pragma: no cover - an install without a C compiler
        pytest.skip("sim.model._free_times was not built (no C compiler at install)")
    return FreeTimes


def _kinds():
    return [FreeTimesPython, _compiled()]


def _is_heap(desks) -> bool:
    times, arity = desks.times, desks.arity  # heapq's is binary, the C heap four-way
    return all(times[(i - 1) // arity] <= times[i] for i in range(1, len(times)))


@given(hs.integers(1, 40), jobs)
def test_the_least_free_time_is_heapqs_after_every_job(servers: int, work) -> None:
    for kind in _kinds():
        desks = kind(servers)
        heap = [0.0] * servers
        for ready, duration in work:
            assert desks.least() == heap[0]
            # a job starts when the first desk is free (or later) and ends after it
            until = max(ready + duration, desks.least())
            desks.replace_least(until)
            heapq.heapreplace(heap, until)
            assert sorted(desks.times) == sorted(heap) and _is_heap(desks)
        assert len(desks) == servers and desks.least() == heap[0]


@given(hs.integers(1, 40), jobs)
def test_serve_books_the_server_free_first_no_sooner_than_ready(servers: int, work) -> None:
    for kind in _kinds():
        desks = kind(servers)
        heap = [0.0] * servers
        for ready, duration in work:
            done = (ready if ready > heap[0] else heap[0]) + duration
            assert desks.serve(ready, duration) == done  # the same double
            heapq.heapreplace(heap, done)
            assert sorted(desks.times) == sorted(heap) and _is_heap(desks)


def test_the_compiled_heap_is_the_one_used_where_it_was_built() -> None:
    assert free_times.FreeTimes is _compiled()


def test_no_servers_or_not_numbers_are_refused_and_move_nothing() -> None:
    for kind in _kinds():
        with pytest.raises(ValueError, match="negative"):
            kind(-1)
        none = kind(0)
        assert len(none) == 0
        with pytest.raises(IndexError):
            none.least()
        with pytest.raises(IndexError):
            none.serve(1.0, 1.0)
    desks = _compiled()(3)
    desks.serve(0.0, 5.0)
    before = desks.times
    with pytest.raises(TypeError):
        desks.replace_least("late")
    with pytest.raises(TypeError):
        desks.serve(1.0, None)
    with pytest.raises(TypeError):
        desks.serve(1.0)
    assert desks.times == before


def test_whole_numbers_are_times_too() -> None:
    for kind in _kinds():
        desks = kind(2)
        assert desks.serve(3, 2) == 5.0
        desks.replace_least(4)
        assert desks.least() == 4.0
