"""Courts and their enforcement officers, the scarce resource.

Each court has a pool of officers serving stints first come first served, on the region's
calendar. Officer effort is measured in working days; a stint that would start outside
working hours starts at the next opening, and it runs only while the court is open.

The pool is the exact multi-server FCFS recursion (Kiefer-Wolfowitz): a stint requested at
time ``now`` starts when the earliest-free officer is free (or now, if one is idle) and the
court is open. Requests are made as simulated time advances, so no later request can
overtake an earlier one and this is the same queue as a ``simpy.Resource`` served in order,
at the cost of one timeout per stint instead of a request, a grant and a release.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from mypy_extensions import mypyc_attr

from sim.model.calendar import WorkingTime
from sim.model.clock import Clock
from sim.model.free_times import FreeTimes, Servers


@mypyc_attr(allow_interpreted_subclasses=True)  # the model's event sink extends it
class WorkLog:
    """What a court reports: each officer stint as it is booked. Here it does nothing; the
    model's :class:`sim.model.events.EventSink` extends it. A compiled class, not a
    protocol: a court calls it directly, not by name."""

    def officer_worked(self, start: float, days: float, region: int = 0) -> None:
        """An officer's stint of ``days`` working days began at ``start``, in the region
        of number ``region`` (the scenario's order)."""


class Court:
    """One court: its officers and its working calendar."""

    def __init__(
        self,
        env: Clock,
        name: str,
        region: str,
        officers: int,
        calendar: WorkingTime,
        work_log: WorkLog,
        region_number: int = 0,
    ) -> None:
        self.env = env
        self.region_number = region_number
        self.name = name
        self.region = region
        self.officers = officers
        self.free_at: Servers = FreeTimes(officers)  # when each officer is next free
        self.calendar = calendar
        self.work_log = work_log
        self._last_request = 0.0

    def book(self, now: float, work_days: float) -> tuple[float, float]:
        """Book the next free officer for ``work_days`` from ``now``: (start, end)."""
        if now < self._last_request:
            raise ValueError("officer stints must be requested in time order")
        self._last_request = now
        free = self.free_at.least()
        start = self.calendar.next_open(now if now > free else free)
        end = self.calendar.advance(start, work_days)
        self.free_at.replace_least(end)
        self.work_log.officer_worked(start, work_days, self.region_number)
        return start, end

    def work(self, work_days: float) -> Generator[Any, Any, float]:
        """A process step: an officer's stint of ``work_days``; returns when it started."""
        env = self.env
        start, end = self.book(env.now, work_days)
        yield env.wait(end - env.now)
        return start


def split_officers(officers: int, courts: int) -> list[int]:
    """Officers per court: as even as possible, the first courts taking the remainder."""
    base, extra = divmod(officers, courts)
    return [base + (1 if i < extra else 0) for i in range(courts)]
