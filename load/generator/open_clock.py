"""Open arrivals: requests start as a Poisson process on an absolute clock.

Locust's wait times are closed-loop: a user sends its next request only after the last one
came back, so a slow server is offered less load, and a stall hides itself (coordinated
omission). Here one scheduler greenlet per worker process draws exponential gaps and keeps
intended send times on an absolute clock, ``t_k = t_(k-1) + gap`` (never "now + gap"), so
the offered load does not depend on how fast the server answers.

Each arrival takes a slot of a bounded in-flight pool (the worker's connections); when none
is free it waits for one, and when more than ``max_waiting`` arrivals already wait it is
dropped and counted. For every request three times are kept, in HDR histograms:

- **latency**: from the actual send (slot taken) to the answer, what Locust reports;
- **corrected latency**: from the *intended* send to the answer (corrected for coordinated
  omission: the wait for a slot behind a slow server counts);
- **send lag**: how late the generator itself got to the arrival (woke up and dispatched it)
  after its intended time. This is the generator's own lateness, apart from waiting for a
  slot (the server's doing): it judges the generator's health, never the server;
- **queue wait**: from dispatch to the actual send, waiting for a free slot.

A rate that changes over the run is a list of constant-rate segments; the process is
restarted at each segment boundary, which is exact for a Poisson process (memoryless).
Imported only in Locust processes (it uses gevent).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gevent
import numpy as np
from gevent.lock import BoundedSemaphore
from gevent.pool import Group

from load.generator.histograms import ALL, encode, new_histogram, record_seconds

BLOCK = 4096  # random draws made at a time


@dataclass
class Timing:
    """The histograms and counts of one worker's arrivals."""

    latency: dict[str, Any] = field(default_factory=dict)  # name -> HdrHistogram
    corrected: dict[str, Any] = field(default_factory=dict)
    send_lag: Any = field(default_factory=new_histogram)
    queue_wait: Any = field(default_factory=new_histogram)
    arrivals: int = 0
    dropped: int = 0
    completed: int = 0
    unfinished: int = 0
    first_intended: float = 0.0

    def record(self, name: str, intended: float, sent: float, end: float) -> None:
        for table, seconds in ((self.latency, end - sent), (self.corrected, end - intended)):
            for key in (name, ALL):
                hist = table.get(key)
                if hist is None:
                    hist = table[key] = new_histogram()
                record_seconds(hist, seconds)
        self.completed += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "arrivals": self.arrivals,
            "dropped": self.dropped,
            "completed": self.completed,
            "unfinished": self.unfinished,
            "histograms": {
                "latency": {k: encode(h) for k, h in self.latency.items()},
                "corrected": {k: encode(h) for k, h in self.corrected.items()},
                "send_lag": encode(self.send_lag),
                "queue_wait": encode(self.queue_wait),
            },
        }


class OpenClock:
    """Poisson arrivals over ``segments`` ``(start s, end s, rate /s)``; each arrival runs
    ``work(kind)`` (which sends one request and returns its name) in its own greenlet, once
    a slot is free."""

    def __init__(
        self,
        segments: Sequence[tuple[float, float, float]],
        kinds: Sequence[str],
        weights: Sequence[float],
        work: Callable[[str], str],
        *,
        seed: Sequence[int],
        max_in_flight: int,
        max_waiting: int,
    ) -> None:
        self.segments = list(segments)
        self.kinds = list(kinds)
        p = np.asarray(weights, dtype=float)
        self.p = p / p.sum()
        self.work = work
        self.rng = np.random.default_rng(list(seed))
        self.slots = BoundedSemaphore(max_in_flight)
        self.max_waiting = max_waiting
        self.waiting = 0
        self.group = Group()
        self.timing = Timing()
        self._gaps: list[float] = []
        self._picks: list[int] = []

    def _gap(self) -> float:
        if not self._gaps:
            self._gaps = self.rng.exponential(1.0, BLOCK).tolist()
        return self._gaps.pop()

    def _kind(self) -> str:
        if not self._picks:
            self._picks = self.rng.choice(len(self.kinds), size=BLOCK, p=self.p).tolist()
        return self.kinds[self._picks.pop()]

    def run(self, drain_s: float) -> Timing:
        """Offer every arrival, then wait up to ``drain_s`` for those still in flight."""
        t0 = time.perf_counter()
        self.timing.first_intended = t0
        intended = t0
        for start, end, rate in self.segments:
            intended = max(intended, t0 + start)
            if rate <= 0:
                intended = t0 + end
                continue
            mean_gap = 1.0 / rate
            while True:
                intended += self._gap() * mean_gap
                if intended >= t0 + end:
                    intended = t0 + end  # memoryless: restart at the boundary
                    break
                self._arrive(intended)
        self.group.join(timeout=drain_s)
        self.timing.unfinished = len(self.group)
        self.group.kill(block=True, timeout=5)
        return self.timing

    def _arrive(self, intended: float) -> None:
        delay = intended - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        now = time.perf_counter()
        t = self.timing
        t.arrivals += 1
        record_seconds(t.send_lag, max(now - intended, 0.0))
        if self.waiting >= self.max_waiting and self.slots.locked():
            t.dropped += 1
            return
        self.waiting += 1
        self.group.spawn(self._one, intended, now, self._kind())

    def _one(self, intended: float, dispatched: float, kind: str) -> None:
        self.slots.acquire()
        self.waiting -= 1
        try:
            sent = time.perf_counter()
            name = self.work(kind)
            end = time.perf_counter()
        finally:
            self.slots.release()
        record_seconds(self.timing.queue_wait, max(sent - dispatched, 0.0))
        self.timing.record(name, intended, sent, end)
