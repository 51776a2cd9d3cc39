"""The closing shelf: a case still owing waits for its closing work as its own timer, and
without an event log lets its debtor's assets and its holds go at once."""

from __future__ import annotations

import gc
import sys
import weakref

from simpy.events import NORMAL, EventPriority

from sim.model import closing
from sim.model.case import FOR_CLOSING, Case
from sim.model.clock import Clock, Timer
from sim.model.debtors import Asset
from sim.model.events import EventSink
from tests.sim.tiny import region_and_court, tiny_scenario


class _Env(Clock):
    """Records the timers the shelf books instead of running them."""

    def __init__(self) -> None:
        super().__init__()
        self.timers: list[tuple[float, Case]] = []

    def call_later(self, delay: float, timer: Timer, priority: EventPriority = NORMAL) -> None:
        assert isinstance(timer, Case) and timer.stage == FOR_CLOSING
        self.timers.append((delay, timer))


class _Events(EventSink):
    def __init__(self, detailed: bool) -> None:
        self.detailed = detailed  # type: ignore[misc]  # a ClassVar of real sinks


class _World(closing.ClosingWorld):
    """Stands for the world: extends what closing reads of it."""

    def __init__(self, detailed: bool = True) -> None:
        self.env = _Env()
        self.events = _Events(detailed)
        self.scenario = tiny_scenario()


class _Hold:
    """Stands for a hold: the shelf keeps it by reference."""


def _case(case_id: int) -> Case:
    assets = (Asset(0, "vehicle", 5.0), Asset(1, "bank_deposit", 2.0))
    return Case(case_id, *region_and_court(), 3.0, 9.0, assets, seed=11)


def test_a_shelved_case_waits_as_its_own_timer_with_its_holds_and_work() -> None:
    world = _World()
    shelf = closing.ClosingShelf(world)
    cases = [_case(k) for k in range(3)]
    holds = [(_Hold(),), (), (_Hold(), _Hold())]
    for k, case in enumerate(cases):
        shelf.shelve(case, list(holds[k]), 1.5 + k, 4.0 + k)  # type: ignore[arg-type]
    assert len(shelf) == 3
    for k, (delay, timer) in enumerate(world.env.timers):
        assert delay == 4.0 + k and timer.closing_work == 1.5 + k
        assert timer is cases[k] and timer.kept == holds[k]
        assert len(timer.assets) == 2  # an event log reads them when it closes


def test_without_a_log_the_shelf_keeps_neither_assets_nor_holds() -> None:
    """Only an event log reads them once the case waits (its row's count of assets, the
    holds released): for statistics alone they are let go at once."""
    world = _World(detailed=False)
    shelf = closing.ClosingShelf(world)
    hold = _Hold()
    seen = weakref.ref(hold)
    case = _case(7)
    asset = case.assets[0]
    held_by_the_case = sys.getrefcount(asset)
    shelf.shelve(case, [hold], 2.0, 5.0)  # type: ignore[list-item]
    del hold
    gc.collect()
    assert seen() is None and sys.getrefcount(asset) == held_by_the_case - 1
    ((_, timer),) = world.env.timers
    assert timer is case and case.assets == () and case.kept == () and case.closing_work == 2.0


def test_with_a_log_the_shelf_keeps_the_holds_while_it_waits() -> None:
    world = _World(detailed=True)
    shelf = closing.ClosingShelf(world)
    hold = _Hold()
    seen = weakref.ref(hold)
    shelf.shelve(_case(3), [hold], 1.0, 5.0)  # type: ignore[list-item]
    del hold
    gc.collect()
    assert seen() is not None
    ((_, case),) = world.env.timers
    world.env.timers.clear()  # the case gone (as once it has closed): nothing is kept
    del case
    gc.collect()
    assert seen() is None
