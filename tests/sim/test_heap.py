"""heapq's push and pop with timed entries compared in C (``sim/model/_heap.c``) hold and
give what heapq's hold and give, item for item: ties, NaNs and other items included."""

from __future__ import annotations

import heapq
import math

import pytest
from hypothesis import given
from hypothesis import strategies as hs


def _compiled():
    try:
        from sim.model import _heap
    except ImportError:  # pragma: no cover - an install without a C compiler
        pytest.skip("sim.model._heap was not built (no C compiler at install)")
    return _heap


times = hs.sampled_from([0.0, 0.5, 1.0, 1.0, 2.25, -3.0, math.inf]) | hs.floats(-10, 10)
# entries as the model makes them (a time, then integers), ties of time included
entries = hs.tuples(times, hs.integers(-1, 2), hs.integers(0, 5))
ops = hs.lists(hs.one_of(entries, hs.none()), max_size=120)  # None: a pop


@given(ops)
def test_the_heap_holds_what_heapqs_holds_after_every_step(steps) -> None:
    heap = _compiled()
    mine: list = []
    theirs: list = []
    for entry in steps:
        if entry is None:
            if not theirs:
                with pytest.raises(IndexError):
                    heap.heappop(mine)
                continue
            assert heap.heappop(mine) == heapq.heappop(theirs)
        else:
            heap.heappush(mine, entry)
            heapq.heappush(theirs, entry)
        assert mine == theirs  # the same arrangement, not only the same least


@given(hs.lists(hs.one_of(hs.floats(allow_nan=True), hs.integers(-5, 5)), max_size=60))
def test_plain_numbers_nans_and_mixed_types_fall_back_to_pythons_order(values) -> None:
    heap = _compiled()
    mine: list = []
    theirs: list = []
    for v in values:
        heap.heappush(mine, v)
        heapq.heappush(theirs, v)
        assert repr(mine) == repr(theirs)  # NaN != NaN: compared as text
    while theirs:
        assert repr(heap.heappop(mine)) == repr(heapq.heappop(theirs))
    assert mine == []


def test_what_python_cannot_compare_fails_as_in_heapq() -> None:
    heap = _compiled()
    mine: list = [(1.0, object())]
    with pytest.raises(TypeError):
        heap.heappush(mine, (1.0, object()))  # equal times: the next items are compared
    with pytest.raises(TypeError):
        heap.heappush((), 1.0)
    with pytest.raises(TypeError):
        heap.heappop([], 2)
