"""The event calendar of a replication: SimPy's environment with a two-level queue.

SimPy keeps every scheduled event in one binary heap, so each push and pop costs about
``log2(pending)`` comparisons of tuples. A national run holds hundreds of thousands of
pending events (a timeout for every case waiting for its money, its closing, its next
control), most of them days or months ahead, and the cost of an event grows with the size
of the run.

:class:`Clock` keeps the events of the current *slot* (an hour of simulated time) apart
from later ones; later ones wait in per-slot lists, in the order they were scheduled. The
slot of a time is ``floor(t * SLOTS_PER_DAY)``, which never decreases as ``t`` grows, so
every event in an earlier slot comes before every event in a later one. When the clock
reaches a slot, its list is sorted once, stably, by (time, priority): the *due* events,
taken in turn from the front. What is scheduled into the current slot while it runs (a
third of the events: work at the same instant, short waits) goes to a small heap keyed as
SimPy keys its queue (time, priority, the order of scheduling). Each step takes the
earlier of the two heads; on a tie of time and priority the due event goes first, as it
was scheduled first. Events are therefore processed in exactly the order of
:class:`simpy.Environment`: the same run, event for event, at a cost per event that no
longer grows with the number pending (a sort of float keys, not a heap pop of
``log2(pending)`` tuple comparisons).

A later slot keeps its events with their times unboxed beside them (``sim/model/_later.c``:
a double and a reference, 16 bytes an event waiting; the few not of NORMAL priority noted
apart), not as SimPy's queue tuples (about 130 bytes: the tuple, its float and its number)
nor as a list of float objects beside a list of the events (about 48 bytes, and a float
of its own to read, cold, when the hour comes). Most of what a national run holds is
events waiting days or months ahead, one or two for each open matter. Without a C
compiler the same columns are Python lists (:class:`_Later`), with the same order.

The model's processes are compiled :class:`Task` objects (:meth:`Clock.start`,
:meth:`Clock.start_now`) waiting on compiled :class:`Wake` events (:meth:`Clock.wait`),
and its work at a time with nothing waiting on it is a :class:`Timer`: each takes the
place in the queue that a :class:`simpy.Process`, a :class:`simpy.Timeout` or an event of
SimPy's would, so the order is SimPy's, at the cost of compiled code, not of SimPy's
Python. SimPy's own processes and events run on the clock beside them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Generator
from typing import Any, Final

import simpy
from mypy_extensions import mypyc_attr
from simpy import events as simpy_events
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import EventPriority

from sim.model.streams import compiled_or

# what compiled code reads at every step, held in C variables (Final), not looked up by name
# heapq's, or the same with timed entries compared in C (sim/model/_heap.c)
heappop: Final = compiled_or("heappop", heapq.heappop, "sim.model._heap")
heappush: Final = compiled_or("heappush", heapq.heappush, "sim.model._heap")
NORMAL: Final = simpy_events.NORMAL
_sorted: Final = sorted  # a builtin held in a C variable, not looked up at each call
URGENT: Final = simpy_events.URGENT


def _take_due_python(due: list[Any], i: int) -> Any:
    """``due[i]``, leaving None in its place (``sim/model/_later.c``'s ``take_due``
    prefetches the events a few places on as well)."""
    event = due[i]
    due[i] = None
    return event


_take_due: Final = compiled_or("take_due", _take_due_python, "sim.model._later")

SLOTS_PER_DAY: Final = 24  # an hour of simulated time a slot
_LAST: Final = 2**62  # the slot of events at infinity (or beyond any horizon), after all others
# later slots less than this many hours ahead are the items of a ring, a list indexed by
# the slot modulo its length (256 KiB, whatever the length of the run); slots further ahead,
# and those of events at infinity, a dictionary's with a heap of its keys
_RING: Final = 1 << 15  # about 3.7 years of hours
_RING_MASK: Final = _RING - 1


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled, yet open to Python subclasses
class Clock(simpy.Environment):
    """A :class:`simpy.Environment` whose queue has two levels (see the module)."""

    # SimPy's own state, held as compiled attributes rather than in the instance's
    # dictionary (SimPy's Python code reads and sets them as before): the clock and the
    # model read the time at almost every step
    _now: float
    # this slot's heap: its times floats (Clock.schedule makes every entry), read unboxed
    _queue: list[tuple[float, EventPriority, int, simpy.Event]]
    _active_proc: Any

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self._scheduled = 0  # events scheduled into the heap: SimPy's ``_eid`` counter
        self.steps = 0  # calls of :meth:`step` made by :meth:`run` (for ``chakong bench``)
        self._slot = self._slot_of(initial_time)  # the current slot
        # slot -> events scheduled for it, in order: a ring indexed by the slot modulo _RING
        # for slots less than _RING ahead (None where nothing waits), with a count of the
        # slots that wait in it...
        self._ring: list[Any] = [None] * _RING  # _Later or _later.Later: read by name
        self._ring_waiting = 0
        self._ring_first = _LAST + 1  # the least slot waiting in the ring (none: past _LAST)
        # ...and a dictionary from _RING on, with a heap of its keys
        self._later: dict[int, Any] = {}
        self._slots: list[int] = []
        # the current slot's due events, sorted by (time, priority); taken from ``_next``
        self._due: list[Any] = []
        self._due_times: list[float] = []
        self._due_priorities: list[int] | None = None  # None: all NORMAL
        self._next = 0

    @property
    def now(self) -> float:
        """The current simulated time (SimPy's property, compiled: the model reads it at
        almost every step)."""
        return self._now

    @staticmethod
    def _slot_of(t: float) -> int:
        return int(t * SLOTS_PER_DAY) if t < 1e15 else _LAST

    def schedule(self, event: Any, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        self.schedule_at(event, priority, self._now + delay)

    def schedule_at(self, event: Any, priority: EventPriority, t: float) -> None:
        """Schedule ``event`` at the time ``t`` (not before now), as if scheduled now: for an
        event whose time is known only after the instant it would have been scheduled at,
        computed as it would have been then (:mod:`sim.engine.split`)."""
        slot = int(t * SLOTS_PER_DAY) if t < 1e15 else _LAST
        if slot <= self._slot:
            self._scheduled += 1
            heappush(self._queue, (t, priority, self._scheduled, event))
            return
        waiting: Any
        if slot - self._slot < _RING:  # a ring's item, not a dictionary's look-up of a boxed int
            ring = self._ring
            found = ring[slot & _RING_MASK]  # no other slot waiting there: they are all
            if found is None:  # less than _RING ahead
                waiting = _Hour()
                ring[slot & _RING_MASK] = waiting
                self._ring_waiting += 1
                if slot < self._ring_first:
                    self._ring_first = slot
            else:
                waiting = found
        else:
            far = self._later.get(slot)
            if far is None:
                waiting = self._later[slot] = _Hour()
                heappush(self._slots, slot)
            else:
                waiting = far
        if priority != NORMAL:  # rare: a process started at a later time, a stop
            waiting.prioritise(int(priority))
        _add(waiting, t, event)

    def call_later(self, delay: float, timer: Timer, priority: EventPriority = NORMAL) -> None:
        """Call ``timer.fire()`` in ``delay`` days, in the order an event scheduled now with
        ``priority`` would be processed (the same key: time, priority, order of scheduling):
        a :class:`simpy.Timeout` with the default, a process started now with ``URGENT``."""
        timer.callbacks = _FIRE
        timer._ok = True
        self.schedule(timer, priority, delay)

    def call_at(self, t: float, timer: Timer, priority: EventPriority = NORMAL) -> None:
        """Call ``timer.fire()`` at the time ``t``, as :meth:`call_later` would."""
        timer.callbacks = _FIRE
        timer._ok = True
        self.schedule_at(timer, priority, t)

    def wait(self, delay: float) -> Wake:
        """What a process yields to wait ``delay`` days: as ``self.timeout(delay)`` to the
        engine (the same key in the queue: time, NORMAL, order of scheduling), in a compiled
        event of three slots (:class:`Wake`) rather than a :class:`simpy.Timeout`."""
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        wake = Wake()
        self.schedule(wake, NORMAL, delay)
        return wake

    def start(self, generator: Generator[Any, Any, Any]) -> Task:
        """Start a process as ``self.process(generator)`` does, in the same place of the
        event order (its first step runs at an URGENT event scheduled now, where SimPy's
        :class:`~simpy.events.Initialize` would be), as a compiled :class:`Task`."""
        task = Task(self, generator)
        self.call_later(0, _Start(task), URGENT)
        return task

    def start_now(self, generator: Generator[Any, Any, Any]) -> Task:
        """Start a process inside the event being processed, where its
        :class:`~simpy.events.Initialize` event would have been processed next.

        For a timer that starts a process as the last thing it does: the timer is a NORMAL
        event, so no URGENT event is due at this instant (it would have come first), and the
        process's Initialize would be the next event; running the generator at once gives
        the same order of everything that happens, one event fewer."""
        task = Task(self, generator)
        task.resume(_STARTED)
        return task

    def _next_slot(self) -> bool:
        """Make the next slot current (nothing of the current one is left); False if none.

        Every slot waiting in the ring comes before every slot in the dictionary: a slot
        goes to the dictionary only when it is _RING or more ahead, and moves to the ring
        as soon as it is less (here), before anything more can be scheduled for it, so an
        hour's events are always in one place."""
        ring = self._ring
        slot = self._ring_first
        later: Any
        if slot <= _LAST:
            found = ring[slot & _RING_MASK]
            assert found is not None
            later = found
            ring[slot & _RING_MASK] = None
            self._ring_waiting -= 1
            self._slot = slot
            if self._ring_waiting:  # the next slot waiting there: less than _RING on
                slot += 1
                while ring[slot & _RING_MASK] is None:
                    slot += 1
                self._ring_first = slot
            else:
                self._ring_first = _LAST + 1
        elif self._slots:
            self._slot = heappop(self._slots)
            later = self._later.pop(self._slot)
        else:
            return False
        slots = self._slots
        while slots and slots[0] - self._slot < _RING:  # now less than _RING ahead
            ahead = heappop(slots)
            ring[ahead & _RING_MASK] = self._later.pop(ahead)
            self._ring_waiting += 1
            if ahead < self._ring_first:
                self._ring_first = ahead
        ordered = later.in_order()
        if ordered is None:  # a time is NaN: Python's sort gives the order
            ordered = _Later.of(*later.columns()).in_order()
        self._due, self._due_times, self._due_priorities = ordered
        self._next = 0
        return True

    def peek(self) -> float:
        if self._next < len(self._due):
            t = self._due_times[self._next]
            return min(t, self._queue[0][0]) if self._queue else t
        if self._queue:
            return self._queue[0][0]
        slot = self._ring_first  # before every slot of the dictionary (see _next_slot)
        if slot <= _LAST:
            waiting = self._ring[slot & _RING_MASK]
            assert waiting is not None
            return _first_time(waiting)
        if self._slots:
            return _first_time(self._later[self._slots[0]])
        return math.inf

    def run(self, until: Any = None) -> Any:
        """:meth:`simpy.Environment.run`, its loop compiled: a step is a direct call."""
        if until is not None:
            if not isinstance(until, simpy.Event):
                at = until if isinstance(until, int) else float(until)
                if at <= self._now:
                    raise ValueError(
                        f"until ({at}) must be greater than the current simulation time"
                    )
                until = simpy.Event(self)  # before all regular events at that time
                until._ok = True
                until._value = None
                self.schedule(until, URGENT, at - self._now)
            elif until.callbacks is None:  # already processed
                return until.value
            until.callbacks.append(StopSimulation.callback)
        steps = 0
        try:
            while True:
                steps += 1
                self.step()
        except StopSimulation as exc:
            return exc.args[0]  # the value of ``until``
        except EmptySchedule:
            if until is not None:
                assert not until.triggered
                raise RuntimeError(
                    f'No scheduled events left but "until" event was not triggered: {until}'
                ) from None
        finally:
            self.steps += steps
        return None

    def step(self) -> None:
        queue = self._queue
        i = self._next
        if i == len(self._due) and not queue:
            if not self._next_slot():
                raise EmptySchedule
            i = 0
        event: Any  # a SimPy event or a Timer (whose callbacks are a tuple)
        if i < len(self._due):
            t = self._due_times[i]
            if queue:  # the earlier head; on a tie the due event was scheduled first
                head = queue[0]
                ahead = head[0] < t
                if not ahead and head[0] == t:
                    due = NORMAL if self._due_priorities is None else self._due_priorities[i]
                    ahead = head[1] < due
            else:
                ahead = False
            if ahead:
                entry = heappop(queue)
                self._now = entry[0]
                event = entry[3]
            else:
                self._now = t
                # not kept alive by the clock once processed (None left in its place)
                event = _take_due(self._due, i)
                self._next = i + 1
        else:
            entry = heappop(queue)
            self._now = entry[0]
            event = entry[3]

        # the model's own events first, read as the compiled classes they are
        if isinstance(event, Timer):
            event.callbacks = None
            event.fire()
            return
        if isinstance(event, Wake):  # always ok; its task, then its callbacks, go on
            waiting = event.callbacks
            event.callbacks = None
            task = event.task
            if task is not None:
                event.task = None
                task.resume(event)
            if waiting:
                for resume in waiting:
                    resume(event)
            return

        # as simpy.Environment.step: callbacks run once, a failure not defused crashes
        callbacks, event.callbacks = event.callbacks, None
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1 :]
            self.schedule(event, EventPriority(-1))
            raise
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc


class _Later:
    """The events scheduled for a later slot, in the order scheduled, as columns: what
    ``sim/model/_later.c``'s ``Later`` is (the same methods, the same order), in Python."""

    __slots__ = ("events", "priorities", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.events: list[Any] = []
        # SimPy's priority is NORMAL but for these (position: priority): URGENT, a stop's -1
        self.priorities: dict[int, int] = {}

    @staticmethod
    def of(times: list[float], events: list[Any], priorities: dict[int, int]) -> _Later:
        """The columns ``times``, ``events`` and ``priorities`` (:meth:`columns`'s)."""
        later = _Later()
        later.times, later.events, later.priorities = times, events, priorities
        return later

    def prioritise(self, priority: int) -> None:
        """The next event added has ``priority`` (SimPy's), not NORMAL."""
        self.priorities[len(self.events)] = priority

    def columns(self) -> tuple[list[float], list[Any], dict[int, int]]:
        return self.times, self.events, self.priorities

    def first_time(self) -> float | None:
        return min(self.times)

    def __len__(self) -> int:
        return len(self.events)

    def in_order(self) -> tuple[list[Any], list[float], list[int] | None]:
        """The events, their times and (None if all NORMAL) their priorities, in the order
        SimPy's queue would give them: by time, then priority, then order of scheduling (a
        stable sort keeps the order of scheduling among ties)."""
        times = self.times
        events = self.events
        n = len(events)
        if n == 1:
            priorities = self.priorities
            return events, times, [int(priorities[0])] if priorities else None
        if not self.priorities:
            for k in range(1, n):
                if times[k] < times[k - 1]:
                    break
            else:  # scheduled in time order already (often so): the stable sort's order
                return events, times, None
            order = _sorted(range(n), key=times.__getitem__)
            floats: list[Any] = times  # the same list, its floats moved as they are
            return [events[k] for k in order], [floats[k] for k in order], None
        keyed = [(times[k], int(self.priorities.get(k, NORMAL)), k) for k in range(n)]
        keyed.sort(key=_time_and_priority)
        return (
            [events[k] for _, _, k in keyed],
            [t for t, _, _ in keyed],
            [p for _, p, _ in keyed],
        )


def _time_and_priority(key: tuple[float, int, int]) -> tuple[float, int]:
    return key[0], key[1]


def _add_python(later: _Later, t: float, event: Any) -> None:
    """``event`` at ``t``, after those already in ``later``."""
    later.times.append(t)
    later.events.append(event)


def _first_time(waiting: Any) -> float:
    """The least time of a later slot's events (``min`` where a time is NaN)."""
    t = waiting.first_time()
    return t if t is not None else min(waiting.columns()[0])


# the columns in C (sim/model/_later.c: times unboxed beside their events), or in Python
_Hour: Final = compiled_or("Later", _Later, "sim.model._later")
_add: Final = compiled_or("add", _add_python, "sim.model._later")


@mypyc_attr(allow_interpreted_subclasses=True)  # for timers of one's own
class Timer:
    """Work the clock does at a time, with nothing waiting on it: scheduled as an event of
    its own (:meth:`Clock.call_later`), it costs the queue's entry and this object, not a
    :class:`simpy.Timeout`, its callbacks list and a closure."""

    __slots__ = ("_ok", "callbacks")
    _ok: bool
    callbacks: tuple[Callable[[Timer], None], ...] | None

    def fire(self) -> None:
        raise NotImplementedError


def _fire(timer: Timer) -> None:
    timer.fire()


_FIRE: Final = (_fire,)


class Wake:
    """An event that a process waits on until a time (:meth:`Clock.wait`): what the engine
    and a process read of an event (its callbacks, ``_ok`` and ``_value``), and the
    :class:`Task` that waits on it first, kept apart from the callbacks: the clock resumes
    it by a direct call, not through a bound method made for the purpose (the same order:
    it was the first to wait). Its value is always None."""

    __slots__ = ("_ok", "_value", "callbacks", "task")

    def __init__(self) -> None:
        self._ok = True
        self._value: Any = None
        self.callbacks: list[Callable[[Any], None]] | None = []
        self.task: Task | None = None


class Task:
    """A process of the model's own (:meth:`Clock.start`, :meth:`Clock.start_now`): a
    generator resumed with the value of each event it yields, as
    :meth:`simpy.Process._resume` resumes one, compiled.

    Unlike a :class:`simpy.Process` it is not an event itself: nothing waits for a case to
    end, so its end schedules nothing (SimPy would process one more event, with no
    callbacks, at that instant; the order of every other event is the same). An exception
    in the generator is raised at once, from the event that resumed it."""

    __slots__ = ("_generator", "_target", "env")

    def __init__(self, env: Clock, generator: Generator[Any, Any, Any]) -> None:
        self.env = env
        self._generator = generator
        self._target: Any = None

    def resume(self, event: Any) -> None:
        env = self.env
        env._active_proc = self  # read by SimPy's active_process
        generator = self._generator
        while True:
            if isinstance(event, (Wake, _Started)):  # ok, with no value
                event = _send(generator, None, _DONE)
            elif event._ok:
                event = _send(generator, event._value, _DONE)
            else:  # a failed event: the process handles it or fails
                event._defused = True
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                try:
                    event = generator.throw(exc)
                except StopIteration:
                    event = _DONE
            if event is _DONE:  # the generator returned
                event = None
                break
            if isinstance(event, Wake):
                waiting = event.callbacks
                if waiting is not None:  # not yet processed: resume when it is
                    if event.task is None and not waiting:  # the first to wait on it
                        event.task = self  # a cycle, until the clock processes it
                    else:
                        waiting.append(self.resume)
                    break
                continue
            callbacks = event.callbacks
            if callbacks is not None:  # not yet processed: resume when it is
                callbacks.append(self.resume)  # a bound method: kept, it would make a cycle
                break
        self._target = event
        env._active_proc = None


class _Start(Timer):
    """The first step of a task (:meth:`Clock.start`)."""

    __slots__ = ("task",)

    def __init__(self, task: Task) -> None:
        self.task = task

    def fire(self) -> None:
        self.task.resume(_STARTED)


class _Started:
    """What a process is first resumed with: an event that succeeded with no value."""

    _ok = True
    _value = None


# what every task is first resumed with
_STARTED: Final = _Started()


class _Done:
    """What :func:`_send` gives for a generator that returned rather than yielded."""


_DONE: Final = _Done()


def _send_python(generator: Generator[Any, Any, Any], value: Any, done: Any) -> Any:
    """What ``generator`` yields next when sent ``value``, or ``done`` if it returns."""
    try:
        return generator.send(value)
    except StopIteration:
        return done


# the same compiled (sim/model/_send.c): the generator's end is a result, not a
# StopIteration raised and caught (with a traceback entry mypyc makes for it at each end)
_send: Final = compiled_or("send", _send_python, "sim.model._send")
