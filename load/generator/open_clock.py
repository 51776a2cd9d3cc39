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

Arrivals meant to start in the warm-up (the first ``warmup_s`` seconds) are sent like any
other but kept out of the histograms and counts that the verdict reads; a request counts
as *achieved* when it succeeded and its answer came inside the window (by ``duration_s``).
Every arrival also lands in a time series of ``interval_s`` buckets (offered by intended
time, answers by end time, corrected latency by intended time), warm-up included.

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
class Interval:
    """One bucket of the time series (one worker's share)."""

    offered: int = 0  # arrivals meant to start in it
    answered: int = 0  # answers that came in it
    ok: int = 0  # successful answers that came in it
    errors: int = 0
    send_lag_max_s: float = 0.0
    corrected: Any = field(default_factory=new_histogram)  # by intended time

    def to_json(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "ok": self.ok,
            "errors": self.errors,
            "send_lag_max_ms": round(self.send_lag_max_s * 1000, 3),
            "corrected": encode(self.corrected),
        }


_TIMING_COUNTS = (
    "arrivals",
    "warmup_arrivals",
    "dropped",
    "completed",
    "achieved",
    "achieved_by_name",
    "unfinished",
    "aborted_at_s",
)  # the counts of a worker's summary, as they are named in it


@dataclass
class Timing:
    """The histograms and counts of one worker's arrivals (the window after the warm-up)."""

    latency: dict[str, Any] = field(default_factory=dict)  # name -> HdrHistogram
    corrected: dict[str, Any] = field(default_factory=dict)
    send_lag: Any = field(default_factory=new_histogram)
    queue_wait: Any = field(default_factory=new_histogram)
    arrivals: int = 0  # in the window
    warmup_arrivals: int = 0
    dropped: int = 0
    completed: int = 0  # answered (any outcome), window arrivals
    achieved: int = 0  # succeeded and answered inside the window
    achieved_by_name: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0
    aborted_at_s: float | None = None
    intervals: list[Interval] = field(default_factory=list)

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
            **{name: getattr(self, name) for name in _TIMING_COUNTS},
            "histograms": {
                "latency": {k: encode(h) for k, h in self.latency.items()},
                "corrected": {k: encode(h) for k, h in self.corrected.items()},
                "send_lag": encode(self.send_lag),
                "queue_wait": encode(self.queue_wait),
            },
            "intervals": [i.to_json() for i in self.intervals],
        }


class OpenClock:
    """Poisson arrivals over ``segments`` ``(start s, end s, rate /s)``; each arrival runs
    ``work(kind, measured)`` (which sends one request and returns its name and whether it
    succeeded; ``measured``: after the warm-up) in its own greenlet, once a slot is free."""

    def __init__(
        self,
        segments: Sequence[tuple[float, float, float]],
        kinds: Sequence[str],
        weights: Sequence[float],
        work: Callable[[str, bool], tuple[str, bool]],
        *,
        seed: Sequence[int],
        max_in_flight: int,
        max_waiting: int,
        warmup_s: float = 0.0,
        interval_s: float = 1.0,
    ) -> None:
        self.segments = list(segments)
        self.duration_s = max((b for _, b, _ in self.segments), default=0.0)
        self.kinds = list(kinds)
        p = np.asarray(weights, dtype=float)
        self.p = p / p.sum()
        self.work = work
        self.rng = np.random.default_rng(list(seed))
        self.slots = BoundedSemaphore(max_in_flight)
        self.max_waiting = max_waiting
        self.warmup_s = warmup_s
        self.interval_s = interval_s
        self.waiting = 0
        self.group = Group()
        self.timing = Timing()
        n = max(1, int(np.ceil(self.duration_s / interval_s)))
        self.timing.intervals = [Interval() for _ in range(n)]
        self.t0 = 0.0
        self.stopped = False
        self._gaps: list[float] = []
        self._picks: list[int] = []

    def stop(self) -> None:
        """Offer no further arrivals (an abort); those in flight still finish."""
        if not self.stopped:
            self.stopped = True
            self.timing.aborted_at_s = round(time.perf_counter() - self.t0, 3)

    def _gap(self) -> float:
        if not self._gaps:
            self._gaps = self.rng.exponential(1.0, BLOCK).tolist()
        return self._gaps.pop()

    def _kind(self) -> str:
        if not self._picks:
            self._picks = self.rng.choice(len(self.kinds), size=BLOCK, p=self.p).tolist()
        return self.kinds[self._picks.pop()]

    def _bucket(self, t: float) -> Interval | None:
        i = int((t - self.t0) / self.interval_s)
        return self.timing.intervals[i] if 0 <= i < len(self.timing.intervals) else None

    def run(self, drain_s: float) -> Timing:
        """Offer every arrival, then wait up to ``drain_s`` for those still in flight."""
        self.t0 = t0 = time.perf_counter()
        intended = t0
        for start, end, rate in self.segments:
            intended = max(intended, t0 + start)
            if rate <= 0:
                intended = t0 + end
                continue
            mean_gap = 1.0 / rate
            while not self.stopped:
                intended += self._gap() * mean_gap
                if intended >= t0 + end:
                    intended = t0 + end  # memoryless: restart at the boundary
                    break
                self._arrive(intended)
            if self.stopped:
                break
        self.group.join(timeout=drain_s)
        self.timing.unfinished = len(self.group)
        self.group.kill(block=True, timeout=5)
        return self.timing

    def _arrive(self, intended: float) -> None:
        delay = intended - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        if self.stopped:
            return
        now = time.perf_counter()
        t = self.timing
        measured = intended - self.t0 >= self.warmup_s
        lag = max(now - intended, 0.0)
        bucket = self._bucket(intended)
        if bucket is not None:
            bucket.offered += 1
            bucket.send_lag_max_s = max(bucket.send_lag_max_s, lag)
        if measured:
            t.arrivals += 1
            record_seconds(t.send_lag, lag)
        else:
            t.warmup_arrivals += 1
        if self.waiting >= self.max_waiting and self.slots.locked():
            if measured:
                t.dropped += 1
            return
        self.waiting += 1
        self.group.spawn(self._one, intended, now, self._kind(), measured)

    def _one(self, intended: float, dispatched: float, kind: str, measured: bool) -> None:
        self.slots.acquire()
        self.waiting -= 1
        try:
            sent = time.perf_counter()
            name, ok = self.work(kind, measured)
            end = time.perf_counter()
        finally:
            self.slots.release()
        t = self.timing
        done = self._bucket(end)
        if done is not None:
            done.answered += 1
            done.ok += ok
            done.errors += not ok
        start = self._bucket(intended)
        if start is not None:
            record_seconds(start.corrected, end - intended)
        if not measured:
            return
        record_seconds(t.queue_wait, max(sent - dispatched, 0.0))
        t.record(name, intended, sent, end)
        if ok and end - self.t0 <= self.duration_s:
            t.achieved += 1
            t.achieved_by_name[name] = t.achieved_by_name.get(name, 0) + 1
