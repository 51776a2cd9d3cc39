"""When each server of a desk is next free: an agency's desks, a court's officers.

A job takes the server free first, which is then busy until the job ends. The model reads
only the least of the times and replaces it, so the times are kept as a binary min-heap.
``heapq.heapreplace`` on a list of floats compares them through Python's object protocol
(``PyObject_RichCompare``, some 400 instructions a replacement on the baseline's desks);
the install compiles the same sift comparing the floats' doubles in place
(``sim/model/_free_times.c``), and :class:`FreeTimes` uses it where it was built,
``heapq.heapreplace`` where not. A heap's least is the least of its values whatever their
arrangement, so every run is the same either way.
"""

from __future__ import annotations

import heapq
from typing import Final

from sim.model.streams import compiled_or

# heapq's sift, or the same compiled (a C variable, Final: not looked up by name)
_replace_least: Final = compiled_or("replace_least", heapq.heapreplace, "sim.model._free_times")


class FreeTimes:
    """When each of ``servers`` servers is next free (all at 0 at first), least first."""

    def __init__(self, servers: int) -> None:
        self.times: list[float] = [0.0] * servers  # a min-heap

    def least(self) -> float:
        """When the server free first is free."""
        return self.times[0]

    def replace_least(self, until: float) -> None:
        """The server free first is busy ``until``: sift it down to its place."""
        _replace_least(self.times, until)

    def __len__(self) -> int:
        return len(self.times)
