"""Closings counted against the backlog's sampling instants give the counts a heap of
closing times gives, popped as the clock passes them."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from sim.model.backlog import Closings, sampling_instants


class _Heap:
    """The count as it was: every closing time in a heap, popped when asked."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.closed = 0

    def add(self, at: float) -> None:
        heapq.heappush(self.times, at)

    def by(self, t: float) -> int:
        while self.times and self.times[0] <= t:
            heapq.heappop(self.times)
            self.closed += 1
        return self.closed


steps = hs.sampled_from([0.1, 0.25, 1.0, 7.0, 30.5])
# a closing: told at an instant (before or after the sample there), closing then or later
closings_told = hs.tuples(
    hs.integers(0, 2000),
    hs.booleans(),
    hs.one_of(hs.just(0.0), hs.floats(0, 400), hs.just(float("inf"))),
)


@given(steps, hs.floats(1, 200), hs.lists(closings_told, max_size=60))
def test_counts_at_every_instant_are_the_heaps(step, horizon, told) -> None:
    instants = sampling_instants(step, horizon)
    closings, heap = Closings(instants), _Heap()
    for k, t in enumerate(instants):
        for after_sample in (False, True):  # a case closed at t later in the event order
            if after_sample:
                assert closings.by(t) == heap.by(t)
            for _, _, delay in (
                c for c in told if c[0] % len(instants) == k and c[1] == after_sample
            ):
                closings.add(t + delay)
                heap.add(t + delay)
    assert closings.by(horizon) == heap.by(horizon)
    assert closings.by(horizon + 500) == heap.by(horizon + 500)


def test_the_instants_are_the_clocks_sums() -> None:
    instants = sampling_instants(0.1, 1.0)
    t, expected = 0.0, []
    while t < 1.0:
        expected.append(t)
        t += 0.1
    assert instants == expected and len(instants) == 11  # 0.1 added ten times is < 1


def test_counting_between_instants_is_refused() -> None:
    closings = Closings(sampling_instants(1.0, 10.0))
    closings.add(0.5)
    assert closings.by(0.0) == 0 and closings.by(1.0) == 1
    with pytest.raises(ValueError, match="sampling instants"):
        closings.by(2.5)
