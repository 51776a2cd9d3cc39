"""The replication's two-level event calendar processes events in exactly SimPy's order."""

from __future__ import annotations

import math

import simpy
from hypothesis import given, settings
from hypothesis import strategies as hs

from sim.model.clock import Clock

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
