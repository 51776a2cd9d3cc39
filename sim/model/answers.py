"""Answers awaited from agencies served in another process: a region's side of a split
replication (:mod:`sim.engine.split`).

In one process an agency's answer is computed as the request is sent (its desks' FCFS
recursion, :class:`sim.model.network.AgencyDesk`), and the case waits for the last answer
of its query. When a replication is split by region across processes, the agencies' desks
are kept by the coordinator, which serves every region's requests in the order of their
sending, as one process would. Here a region's world notes what it sent, and at each
*meeting* (an instant at which every process reports what it sent since the last and waits
for the answers) hands it over and takes the answers back:

- the answer's time is the desk's (the coordinator's) plus the link's latency, drawn here
  at sending as one process draws it, so the case's query result is the same, number for
  number (:meth:`Answers.deliver`);
- the case's wait is scheduled then, at the time one process would have scheduled it at
  sending (``sent + (last - sent)``, the same floating-point sum), in the same place of the
  event order: only a tie of two times to the bit would tell the difference.

A meeting must come before the earliest answer could arrive: the clock must not pass an
answer's time before it is known. Meetings fall on every agency's polling instants (the
union of their calendars, the same in every process), and a request to an agency whose
pick-up comes sooner (a poll not on that grid) asks for a meeting of its own at its
pick-up. An answer is at least its pick-up; one at its meeting instant exactly (no
processing and no latency) could not take its place in the order, and is refused
(:class:`NotExact`), as are two processes' requests to one agency at one instant.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from typing import Final

from simpy.events import EventPriority

from sim.errors import SplitNotExact as NotExact
from sim.model.calendar import WorkingTime
from sim.model.clock import NORMAL, Clock, Timer, Wake
from sim.model.events import EventSink
from sim.model.network import Asker, Network, QueryResult

# after every event of an instant (SimPy's URGENT is 0, NORMAL 1): a meeting is held when
# everything that sends at that instant has sent
LAST: Final = EventPriority(2)


class Poller:
    """What a meeting reads of an agency: its next polling instant at or after a time."""

    def __init__(self, polling: WorkingTime, interval: float) -> None:
        self.polling = polling
        self.interval = interval

    def at_or_after(self, t: float) -> float:
        return self.polling.next_poll(t, self.interval)


# a calendar takes a time within a billionth of an interval after a poll as picked up at
# once (sim/model/calendar.py): the next meeting is looked for from this far on, and a
# request picked up so asks for a meeting of its own
_PAST: Final = 1e-6


def next_meeting(pollers: Sequence[Poller], after: float) -> float:
    """The first polling instant of any agency after ``after`` (from 0 if negative);
    agencies that pick up continuously, with no interval, ask for meetings of their own."""
    t = after + _PAST if after >= 0 else 0.0
    return min((p.at_or_after(t) for p in pollers if p.interval > 0), default=math.inf)


def pollers(network: Network) -> list[Poller]:
    """Each agency's polling instants, by agency number."""
    return [Poller(d.polling, d.poll_interval_days) for d in network.desks.values()]


class Awaited:
    """A request sent and not yet answered: its query's result, where its findings lie in
    the result, and the link's latency drawn at sending."""

    __slots__ = ("deadline", "first", "last", "latency", "result")

    def __init__(
        self, result: QueryResult, latency: float, deadline: float, first: int, last: int
    ) -> None:
        self.result = result
        self.latency = latency
        self.deadline = deadline  # the agency's answer deadline in days (inf: none)
        self.first = first
        self.last = last


class _Meeting(Timer):
    __slots__ = ("answers",)

    def __init__(self, answers: Answers) -> None:
        self.answers = answers

    def fire(self) -> None:
        self.answers.meet()


class Answers(Asker):
    """A region's requests awaiting the coordinator's answers (see the module).

    ``exchange(now, agencies, sent)`` hands over the requests sent since the last meeting
    (agency numbers and times, in the order sent) and returns when each is done at its
    agency (its desk's time, the latency not added), in the same order."""

    def __init__(
        self,
        env: Clock,
        events: EventSink,
        pollers: Sequence[Poller],
        horizon: float,
        exchange: Callable[[float, list[int], list[float]], list[float]],
    ) -> None:
        self.env = env
        self.events = events
        self.pollers = list(pollers)
        self.horizon = horizon
        self.exchange = exchange
        self.agencies: list[int] = []
        self.sent: list[float] = []
        self.awaited: list[Awaited] = []
        self.meetings = 0
        self._grid = next_meeting(self.pollers, -1.0)  # the next meeting on the grid
        self._own: list[float] = []  # meetings asked for off the grid (a heap)
        if self._grid < horizon:
            env.call_at(self._grid, _Meeting(self), LAST)

    def ask(self, agency: int, now: float, result: QueryResult, latency: float,
            deadline: float, first: int, last: int) -> None:  # fmt: skip
        """A request sent at ``now`` to the agency numbered ``agency``."""
        self.agencies.append(agency)
        self.sent.append(now)
        self.awaited.append(Awaited(result, latency, deadline, first, last))
        poller = self.pollers[agency]
        pickup = poller.at_or_after(now)
        if (
            pickup < self._grid
            and pickup < self.horizon
            and (not self._own or pickup < self._own[0])
        ):  # picked up before the next meeting: one of its own at the pick-up
            heapq.heappush(self._own, pickup)
            self.env.call_at(pickup, _Meeting(self), LAST)

    def meet(self) -> None:
        """A meeting, at now: hand over what was sent, take the answers back."""
        now = self.env.now
        on_grid = now == self._grid
        while self._own and self._own[0] <= now:
            heapq.heappop(self._own)
        if not on_grid and not self.awaited:
            return  # asked for by a request already handed over at an earlier meeting
        self.meetings += 1
        done = self.exchange(now, self.agencies, self.sent)
        self.deliver(now, done, True)
        if on_grid:
            self._grid = next_meeting(self.pollers, now)
            if self._grid < self.horizon:
                self.env.call_at(self._grid, _Meeting(self), LAST)

    def finish(self) -> None:
        """At the horizon: the answers to what is still awaited, counted as one process
        counts them at sending (no wait is scheduled: the run is over)."""
        done = self.exchange(math.inf, self.agencies, self.sent)
        self.deliver(math.inf, done, False)

    def deliver(self, now: float, done: list[float], schedule: bool) -> None:
        """The answers to the requests awaited, in the order sent: each query whose last
        answer is in is told to the event sink and its case's wait scheduled."""
        awaited = self.awaited
        if len(done) != len(awaited):
            raise NotExact(f"{len(done)} answers for {len(awaited)} requests")
        for k in range(len(awaited)):
            request = awaited[k]
            result = request.result
            answered = done[k] + request.latency
            if schedule and not answered > now:
                raise NotExact(
                    f"an answer at {answered!r}, not after the meeting at {now!r} that "
                    "brought it: it cannot take its place in the order of one process"
                )
            findings = result.findings
            for i in range(request.first, request.last):
                findings[i].answered = answered
            if answered > result.last:
                result.last = answered
            if answered - result.sent > request.deadline:
                result.late += 1
            result.outstanding -= 1
            if result.outstanding == 0:
                self._answered(result, schedule)
        self.agencies = []
        self.sent = []
        self.awaited = []

    def _answered(self, result: QueryResult, schedule: bool) -> None:
        case = result.case
        self.events.queried(case, result)
        case.queries += sum(result.requests.values())
        waiter = result.waiter
        result.case = result.waiter = None
        if not schedule:
            return
        sent = result.sent
        at = sent + (result.last - sent)  # as one process computes it (now + delay)
        if isinstance(waiter, Wake):
            self.env.schedule_at(waiter, NORMAL, at)
        else:
            self.env.call_at(at, waiter)
