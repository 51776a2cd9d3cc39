"""The replication's two-level event calendar processes events in exactly SimPy's order."""

from __future__ import annotations

import math

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as hs
from simpy.events import URGENT, EventPriority

from sim.model.clock import Clock, Timer

delays = hs.one_of(
    hs.just(0.0),
    hs.floats(0, 0.05),  # inside the hour
    hs.floats(0, 3),  # across hours and days
    hs.sampled_from([1 / 24, 0.5, 1.0, 30.0]),  # on slot edges, and far ahead
)


def trace(env: simpy.Environment, plans: list[list[float]], until: float) -> list:
    """Processes that wait out their delays (and spawn, and fire events at once); the
    order in which everything happens."""
    log: list[tuple[float, int, int]] = []

    def worker(k: int, plan: list[float]):
        for j, d in enumerate(plan):
            yield env.timeout(d)
            log.append((env.now, k, j))
            if j % 3 == 2:  # an event triggered now, waited on by a child
                done = env.event()
                env.process(child(k, j, done))
                done.succeed()

    def child(k: int, j: int, done: simpy.Event):
        yield done
        log.append((env.now, -k - 1, j))

    for k, plan in enumerate(plans):
        env.process(worker(k, plan))
    env.run(until=until)
    return log


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.lists(delays, max_size=12), min_size=1, max_size=8), hs.floats(0.01, 40))
def test_the_clock_keeps_simpys_order_event_for_event(plans, until) -> None:
    assert trace(Clock(), plans, until) == trace(simpy.Environment(), plans, until)


def test_the_clock_peeks_and_runs_out_as_simpy_does() -> None:
    seen = []
    for env in (Clock(), simpy.Environment()):
        empty = env.peek()
        env.timeout(math.inf)  # the slot after all others
        env.timeout(50.25)  # a later slot, not the heap
        ahead = env.peek()
        env.run(until=60)
        seen.append((empty, ahead, env.now, env.peek()))
    assert seen[0] == seen[1] == (math.inf, 50.25, 60, 60)  # the stop event is put back


def matters(env: simpy.Environment, plans: list[list[float]], until: float, timers: bool) -> list:
    """Matters filed by a source, each waiting its first delay (the officer's stint) and
    then going on through the rest, beside background processes with ties: as processes
    (``timers=False``) or as a lifecycle does it on the clock, a timer for the first wait
    that then starts the process at once (``timers=True``: a :class:`Task` waiting on
    :meth:`Clock.wait`)."""
    log: list[tuple[float, str, int, int]] = []

    def rest(k: int, plan: list[float]):
        log.append((env.now, "started", k, 0))
        for j, d in enumerate(plan[1:], 1):
            yield env.wait(d) if timers else env.timeout(d)  # type: ignore[attr-defined]
            log.append((env.now, "matter", k, j))

    def as_process(k: int, plan: list[float]):
        yield env.timeout(plan[0])
        yield from rest(k, plan)

    class Stint(Timer):
        __slots__ = ("k", "plan", "waited")

        def __init__(self, k: int, plan: list[float]) -> None:
            self.k, self.plan, self.waited = k, plan, False

        def fire(self) -> None:
            assert isinstance(env, Clock)
            if not self.waited:
                self.waited = True
                env.call_later(self.plan[0], self)
            else:
                env.start_now(rest(self.k, self.plan))

    def source():
        for k, plan in enumerate(plans):
            if timers:
                assert isinstance(env, Clock)
                env.call_later(0, Stint(k, plan or [0.0]), URGENT)
            else:
                env.process(as_process(k, plan or [0.0]))
            log.append((env.now, "filed", k, 0))
            yield wait(plan[0] if plan else 0.0)

    def background(k: int, plan: list[float], task: bool):
        for j, d in enumerate(plan):
            yield env.wait(d) if task else env.timeout(d)  # type: ignore[attr-defined]
            log.append((env.now, "background", k, j))

    # on the clock: the source and every other background process are compiled tasks
    # (Clock.start, Clock.wait), beside SimPy processes on timeouts
    wait = env.wait if timers else env.timeout  # type: ignore[attr-defined]
    start = env.start if timers else env.process  # type: ignore[attr-defined]
    start(source())
    for k, plan in enumerate(plans):
        task = timers and k % 2 == 0
        (start if task else env.process)(background(k, plan, task))
    env.run(until=until)
    return log


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.lists(delays, max_size=6), min_size=1, max_size=8), hs.floats(0.01, 40))
def test_timers_and_processes_started_at_once_keep_the_order_of_processes(plans, until) -> None:
    expected = matters(simpy.Environment(), plans, until, timers=False)
    assert matters(Clock(), plans, until, timers=True) == expected


def scheduled(env: simpy.Environment, plans: list[list[tuple[float, int]]]) -> list:
    """Events scheduled by hand, each ``(delay, priority)`` of a plan when the one before it
    is processed: ties of time between URGENT and NORMAL events, in the heap and in later
    hours. The order in which they are processed."""
    log: list[tuple[float, int, int]] = []

    def chain(k: int, j: int) -> None:
        if j == len(plans[k]):
            return
        delay, priority = plans[k][j]
        event = simpy.Event(env)
        event._ok, event._value = True, None
        event.callbacks.append(lambda _: (log.append((env.now, k, j)), chain(k, j + 1)))
        env.schedule(event, EventPriority(priority), delay)

    for k in range(len(plans)):
        chain(k, 0)
    env.run()
    return log


@settings(max_examples=150, deadline=None)
@given(
    hs.lists(
        hs.lists(hs.tuples(hs.sampled_from([0.0, 0.5, 1.0, 2.0, 30.0]), hs.sampled_from([0, 1]))),
        min_size=1,
        max_size=8,
    )
)
def test_the_clock_orders_priorities_as_simpy_does_in_later_hours(plans) -> None:
    assert scheduled(Clock(), plans) == scheduled(simpy.Environment(), plans)


def test_a_task_resumes_as_a_process_and_raises_what_its_generator_raises() -> None:
    env = Clock()
    seen: list[tuple[float, object]] = []

    def work():
        value = yield env.wait(1.5)
        seen.append((env.now, value))
        done = env.event()
        done.succeed("ready")
        value = yield done  # triggered, not yet processed: waits for it
        seen.append((env.now, value))
        yield env.wait(0)
        raise KeyError("inside")

    with pytest.raises(ValueError, match="Negative delay"):
        env.wait(-1)
    task = env.start_now(work())
    assert task._target is not None and env.peek() == 1.5
    with pytest.raises(KeyError, match="inside"):
        env.run()
    assert seen == [(1.5, None), (1.5, "ready")]


def waiting_on_one_event(env: simpy.Environment, clock: bool) -> list[tuple[float, str]]:
    """Two model processes and a SimPy one wait on one event (the clock's wait, SimPy's
    timeout); a fourth yields it again after it was processed. The order they go on in."""
    log: list[tuple[float, str]] = []
    shared = env.wait(1) if isinstance(env, Clock) else env.timeout(1)

    def waiter(name: str, delay: float = 0):
        if delay:
            yield env.timeout(delay)
        value = yield shared
        log.append((env.now, f"{name}:{value}"))

    for name in ("first", "second"):
        if clock:
            env.start(waiter(name))  # type: ignore[attr-defined]
        else:
            env.process(waiter(name))
    env.process(waiter("simpy"))
    if clock:
        env.start(waiter("late", 2))  # type: ignore[attr-defined]
    else:
        env.process(waiter("late", 2))
    env.run()
    return log


def test_processes_waiting_on_one_event_go_on_in_the_order_they_waited() -> None:
    expected = [(1, "first:None"), (1, "second:None"), (1, "simpy:None"), (2, "late:None")]
    assert waiting_on_one_event(simpy.Environment(), clock=False) == expected
    assert waiting_on_one_event(Clock(), clock=True) == expected


@pytest.mark.parametrize("compiled", [True, False])
def test_a_generator_is_stepped_to_its_end_without_stopiteration(compiled: bool) -> None:
    from sim.model import clock

    if compiled:
        try:
            from sim.model._send import send
        except ImportError:  # pragma: no cover - an install without a C compiler
            pytest.skip("sim.model._send was not built (no C compiler at install)")
    else:
        send = clock._send_python
    done = object()

    def steps():
        got = yield "first"
        if got == "fail":
            raise LookupError("asked to")
        yield got
        return "a value no one reads"

    g = steps()
    assert send(g, None, done) == "first"
    assert send(g, "second", done) == "second"
    assert send(g, None, done) is done  # returned: the sentinel, no exception
    failing = steps()
    send(failing, None, done)
    with pytest.raises(LookupError, match="asked to"):
        send(failing, "fail", done)
    with pytest.raises(TypeError):
        send(steps(), None)


def test_a_task_that_handles_a_failed_event_and_returns_ends_quietly() -> None:
    env = Clock()
    seen: list[object] = []

    def work():
        failed = env.event()
        failed.fail(ValueError("refused"))
        try:
            yield failed
        except ValueError as exc:
            seen.append((env.now, str(exc)))
        yield env.wait(2)
        seen.append(env.now)

    task = env.start(work())
    env.run()
    assert seen == [(0, "refused"), 2]
    assert task._target is None  # ended: nothing left to wait on


@pytest.mark.parametrize("start", [0.0, -3.25, 11_000.0])
def test_hours_far_ahead_and_before_zero_keep_simpys_order(start: float) -> None:
    """Later hours less than about 3.7 years ahead are a ring's items, those further ahead
    (and events at infinity) a dictionary's, taken when the clock reaches them among the
    ring's; before time 0 and after the ring's first lap alike. Interleaved, they give
    SimPy's order and SimPy's peeks."""
    far = 11_000.0  # further ahead than the ring (2**15 hours)
    plans = [[0.5, far, 1.0], [far + 0.25, 2.0], [3.0, 0.0, far - 20.0], [math.inf], [4.0]]
    plans.append([1000.0] * 12)  # within the ring each time, past the far ones
    # an hour first scheduled from afar, then from near: one hour, in the order scheduled
    plans += [[2000.01], [1000.0, 1000.005], [1000.0, 1000.01]]
    runs = []
    for env in (Clock(start), simpy.Environment(start)):
        log: list[tuple[float, int, int]] = []
        peeks: list[float] = []

        def worker(k: int, plan: list[float], env=env, log=log):
            for j, d in enumerate(plan):
                yield env.timeout(d)
                log.append((env.now, k, j))

        for k, plan in enumerate(plans):
            env.process(worker(k, plan))
        while env.peek() < start + 3 * far:
            peeks.append(env.peek())
            env.step()
        runs.append((log, peeks, env.peek()))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) == 26 and runs[0][2] == math.inf
