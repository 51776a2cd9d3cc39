"""The cases closed by each instant the backlog is sampled at.

A case closes *on the books* when nothing shared is left to wait for, often with a closing
time months ahead (:meth:`sim.model.world.World.close`). The backlog is sampled every
``backlog_sample_days`` and counts the cases closed by then. Keeping the closing times in a
heap until the clock passes them costs two heap operations a case, each of ``log2(waiting)``
comparisons of Python floats, over a heap that grows with the run (hundreds of thousands
of times in a national run). The instants the backlog is sampled at are known in advance,
so :class:`Closings` counts each closing against the first instant that sees it: one
increment a case. Closings after the last instant keep their times (in a heap), for a
count at the horizon.

Each count is the one the heap gives: a closing at or before an instant is counted there,
unless it is told only after the sample at that instant was taken (a case closed at that
very instant, later in the event order), when the next sample counts it, as it would pop
from the heap then.
"""

from __future__ import annotations

import heapq
import math
from typing import Final

from sim.model.streams import compiled_or

# heapq's, or the same with floats compared in C (sim/model/_heap.c), held in C variables
# (Final), not looked up by name
_heappop: Final = compiled_or("heappop", heapq.heappop, "sim.model._heap")
_heappush: Final = compiled_or("heappush", heapq.heappush, "sim.model._heap")


def sampling_instants(step: float, horizon: float) -> list[float]:
    """The instants a process sampling every ``step`` days from 0 sees before ``horizon``:
    each the last plus ``step``, added as the clock adds a wait to its time."""
    instants: list[float] = []
    t = 0.0
    while t < horizon:
        instants.append(t)
        t = t + step
    return instants


class Closings:
    """Cases closed by each of ``instants`` (increasing), and by any time after the last."""

    def __init__(self, instants: list[float]) -> None:
        self.instants = instants
        self.step = instants[1] - instants[0] if len(instants) > 1 else 1.0
        self.due = [0] * len(instants)  # closings first seen at each instant
        self.later: list[float] = []  # closings after the last instant (a heap)
        self.taken = -1  # the last instant counted
        self.closed = 0  # closings counted so far

    def add(self, at: float) -> None:
        """A case closes at ``at`` (now or later)."""
        instants = self.instants
        n = len(instants)
        if n == 0 or at > instants[n - 1]:  # (infinity too)
            k = n
        else:  # the first instant at or after ``at``: guessed from the step, made exact
            k = min(n - 1, max(0, math.ceil(at / self.step)))
            while k > 0 and instants[k - 1] >= at:
                k -= 1
            while instants[k] < at:
                k += 1
        if k <= self.taken:  # its instant's sample was taken before it was told
            k = self.taken + 1
        if k < n:
            self.due[k] += 1
        else:
            _heappush(self.later, at)

    def by(self, t: float) -> int:
        """Cases closed by ``t``: one of the instants, in turn, or a time after the last."""
        instants = self.instants
        n = len(instants)
        i = self.taken + 1
        while i < n and instants[i] <= t:
            self.closed += self.due[i]
            self.taken = i
            i += 1
        if i == n:  # every instant counted: the rest by their times
            later = self.later
            while later and later[0] <= t:
                _heappop(later)
                self.closed += 1
        elif self.taken < 0 or instants[self.taken] != t:
            raise ValueError(f"closings are counted at the sampling instants, not at {t}")
        return self.closed
