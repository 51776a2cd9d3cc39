"""When each server of a desk is next free: an agency's desks, a court's officers.

A job takes the server free first, which is then busy until the job ends. The model reads
only the least of the times and replaces it, so the times are kept as a min-heap.
:class:`FreeTimesPython` keeps them as a list of floats sifted by ``heapq`` (a binary
heap); the install compiles a four-way heap of doubles side by side in one block of memory
(``sim/model/_free_times.c``), and :data:`FreeTimes` is that where it was built, the Python
class where not. At a large scale a bank has hundreds of desks, and a sift through a list
reads a float object of its own at each level, each on a line of memory seldom in the cache
(at scale 0.2, the sift took some 6% of a national run, three times its share at scale
0.01); the doubles of a desk's heap stay in the cache. A heap's least is the least of its
values whatever their arrangement, so every run is the same either way. A four-way heap
has half a binary heap's levels, each a load that waits on the comparison before it: a
booking on a bank's 300 desks took 83 ns against 100 for a binary one in C (a loop of
calls in Python, 2026-12-05), as long as on 15 desks.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import ClassVar, Final, Protocol

from sim.model.streams import compiled_or

# heapq's sift (a C variable, Final: not looked up by name)
_heapreplace: Final = heapq.heapreplace


class Servers(Protocol):
    """What the model reads and does to a desk's free times."""

    def least(self) -> float:
        """When the server free first is free."""
        ...

    def replace_least(self, until: float) -> None:
        """The server free first is busy ``until``."""
        ...

    def serve(self, ready: float, duration: float) -> float:
        """A job of ``duration`` on the server free first, no sooner than ``ready``: it is
        busy until the job ends, which is returned."""
        ...

    def __len__(self) -> int: ...


class FreeTimesPython:
    """When each of ``servers`` servers is next free (all at 0 at first), least first."""

    arity: ClassVar[int] = 2  # children a time has in the heap (heapq's)

    def __init__(self, servers: int) -> None:
        if servers < 0:
            raise ValueError("FreeTimes: servers must not be negative")
        self.times: list[float] = [0.0] * servers  # a min-heap

    def least(self) -> float:
        return self.times[0]

    def replace_least(self, until: float) -> None:
        _heapreplace(self.times, until)

    def serve(self, ready: float, duration: float) -> float:
        free = self.times[0]
        done = (ready if ready > free else free) + duration
        _heapreplace(self.times, done)
        return done

    def __len__(self) -> int:
        return len(self.times)


# Final: compiled modules read it from a C variable, not from a module's dictionary
FreeTimes: Final[Callable[[int], Servers]] = compiled_or(
    "FreeTimes", FreeTimesPython, "sim.model._free_times"
)
