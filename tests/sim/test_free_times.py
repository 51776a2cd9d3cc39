"""A desk's free times, sifted in C (or by heapq where the install had no compiler), hold
what heapq's heap holds: the least is the same after every job."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from sim.model import free_times
from sim.model.free_times import FreeTimes

ends = hs.floats(0, 1e6, allow_nan=False)


def _compiled_replace_least():
    try:
        from sim.model._free_times import replace_least
    except ImportError:  # pragma: no cover - an install without a C compiler
        pytest.skip("sim.model._free_times was not built (no C compiler at install)")
    return replace_least


@given(hs.integers(1, 40), hs.lists(ends, max_size=200))
def test_the_least_free_time_is_heapqs_after_every_job(servers: int, jobs: list[float]) -> None:
    desks = FreeTimes(servers)
    heap = [0.0] * servers
    for done in jobs:
        assert desks.least() == heap[0]
        # a job starts when the first desk is free (or later) and ends after it
        until = max(done, desks.least())
        desks.replace_least(until)
        heapq.heapreplace(heap, until)
        assert sorted(desks.times) == sorted(heap)
        assert all(desks.times[(i - 1) // 2] <= desks.times[i] for i in range(1, servers))
    assert len(desks) == servers and desks.least() == heap[0]


def test_the_compiled_sift_is_the_one_used_where_it_was_built() -> None:
    assert free_times._replace_least is _compiled_replace_least()


@given(hs.lists(ends, min_size=1, max_size=30), ends)
def test_the_compiled_sift_keeps_a_heap_of_the_same_floats(times: list[float], until) -> None:
    replace_least = _compiled_replace_least()
    heapq.heapify(times)
    mine, theirs = list(times), list(times)
    assert replace_least(mine, until) is None
    heapq.heapreplace(theirs, until)
    assert sorted(mine) == sorted(theirs)
    assert all(mine[(i - 1) // 2] <= mine[i] for i in range(1, len(mine)))


def test_the_compiled_sift_refuses_what_is_not_floats_and_moves_nothing() -> None:
    replace_least = _compiled_replace_least()
    with pytest.raises(IndexError):
        replace_least([], 1.0)
    with pytest.raises(TypeError):
        replace_least((0.0, 1.0), 1.0)
    with pytest.raises(TypeError):
        replace_least([0.0, 1.0], 2)
    times = [0.0, 2.0, 1.0, 3.0, 4.0, "late", 6.0]  # met after a move, on the way down
    before = list(times)
    with pytest.raises(TypeError, match="floats"):
        replace_least(times, 9.0)
    assert times == before
