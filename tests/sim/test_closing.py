"""The closing shelf keeps a case waiting for its closing work as a packed row: the case
made again from its row is the case shelved, field for field."""

from __future__ import annotations

import dataclasses
import gc
import math
import sys
import weakref
from operator import attrgetter

from hypothesis import given, settings
from hypothesis import strategies as hs
from simpy.events import NORMAL, EventPriority

from sim.model import closing
from sim.model.case import Case
from sim.model.clock import Clock, Timer
from sim.model.debtors import Asset
from sim.model.events import EventSink
from tests.sim.tiny import region_and_court, tiny_scenario


class _Env(Clock):
    """Records the timers the shelf books instead of running them."""

    def __init__(self) -> None:
        super().__init__()
        self.timers: list[tuple[float, closing.ClosingWork]] = []

    def call_later(self, delay: float, timer: Timer, priority: EventPriority = NORMAL) -> None:
        assert isinstance(timer, closing.ClosingWork)
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


def test_the_shelf_keeps_every_field_of_a_case_once() -> None:
    kept = (*closing._FLOATS, *closing._INTS, *closing._OBJECTS, "assets")
    assert sorted(kept) == sorted(f.name for f in dataclasses.fields(Case))
    assert len(set(kept)) == len(kept)


@given(hs.data())
def test_the_shelf_reads_a_case_in_the_order_of_its_lists(data: hs.DataObject) -> None:
    case = data.draw(cases)
    by_name = (*closing._FLOATS, *closing._INTS)
    assert repr(closing._numbers(case)) == repr(attrgetter(*by_name)(case))  # NaN too
    assert closing._references(case) == attrgetter(*closing._OBJECTS)(case)


times = hs.floats(allow_nan=True, allow_infinity=True, width=64)
counts = hs.integers(0, 2**31)
assets = hs.lists(
    hs.builds(Asset, hs.integers(0, 50), hs.sampled_from(["bank_deposit", "vehicle"]), times),
    max_size=3,
).map(tuple)
cases = hs.builds(
    Case,
    case_id=counts,
    region=hs.just(region_and_court()[0]),
    court=hs.just(region_and_court()[1]),
    filed=times,
    claim=times,
    assets=assets,
    matter=hs.sampled_from(["new", "restored"]),
    debtor_id=hs.integers(-1, 2**40),
    work=times,
    pays_after=times,
    pays_share=times,
    objects=hs.booleans(),
    pays_in_pool=hs.booleans(),
    seed=hs.integers(0, 2**62 - 1),
    officer_start=times,
    closed=times,
    outcome=hs.sampled_from(["terminated_for_now", "partly_performed"]),
    recovered=times,
    last_disbursed=times,
    found=counts,
    queries=counts,
    reworks=counts,
)


def _same(a: Case, b: Case) -> bool:
    def value(x: object) -> object:
        return "nan" if isinstance(x, float) and math.isnan(x) else x

    return all(
        value(getattr(a, f.name)) == value(getattr(b, f.name))
        and (
            f.name not in ("region", "court", "assets") or getattr(a, f.name) is getattr(b, f.name)
        )
        for f in dataclasses.fields(Case)
    )


@settings(max_examples=60, deadline=None)
@given(
    hs.lists(
        hs.one_of(hs.tuples(cases, hs.floats(0, 10), hs.booleans()), hs.integers(0, 5)),
        min_size=1,
        max_size=12,
    )
)
def test_a_case_made_again_from_its_row_equals_the_case_shelved(steps) -> None:
    """Shelve cases and take some back between (an integer step: the k-th still shelved),
    so that rows given back are used again."""
    world = _World()
    shelf = closing.ClosingShelf(world)
    waiting: list[tuple[closing.ClosingWork, Case, float, tuple]] = []
    most = 0
    for step in steps:
        if isinstance(step, tuple):
            case, work, holding = step
            holds = (object(), object()) if holding else ()
            shelf.shelve(case, list(holds), work, work + 1)  # type: ignore[arg-type]
            delay, timer = world.env.timers[-1]
            assert delay == work + 1
            waiting.append((timer, case, work, holds))
            most = max(most, len(waiting))
        elif waiting:
            timer, case, work, holds = waiting.pop(step % len(waiting))
            made, kept_holds, kept_work = shelf.take(timer.row)
            assert made is not case and _same(made, case)
            assert kept_holds == holds and kept_work == work
        assert len(shelf) == len(waiting)
    assert len(shelf.objects) == most * closing._NO  # rows given back were used again


def test_a_row_taken_lets_what_the_case_held_go() -> None:
    world = _World()
    shelf = closing.ClosingShelf(world)
    hold = _Hold()
    region, court = region_and_court()
    seen = weakref.ref(hold)
    gc.collect()  # what earlier tests left that refers to the (shared) region
    references = sys.getrefcount(region)  # shared, so counted rather than collected
    case = Case(0, region, court, 0.0, 1.0, ())
    shelf.shelve(case, [hold], 1.0, 5.0)  # type: ignore[list-item]
    del case, hold
    gc.collect()
    assert seen() is not None  # the shelf keeps them while it waits
    assert sys.getrefcount(region) == references + 1
    made = shelf.take(world.env.timers[0][1].row)
    del made
    gc.collect()
    assert seen() is None and sys.getrefcount(region) == references


def test_without_a_log_the_shelf_keeps_neither_assets_nor_holds() -> None:
    """Only an event log reads them once the case waits (its row's count of assets, the
    holds released): for statistics alone they are let go at once."""
    world = _World(detailed=False)
    shelf = closing.ClosingShelf(world)
    hold = _Hold()
    seen = weakref.ref(hold)
    case = Case(7, *region_and_court(), 3.0, 9.0, (Asset(0, "vehicle", 5.0),), seed=11)
    shelf.shelve(case, [hold], 2.0, 5.0)  # type: ignore[list-item]
    del hold
    gc.collect()
    assert seen() is None
    made, holds, work = shelf.take(world.env.timers[0][1].row)
    assert made.assets == () and holds == () and work == 2.0
    made.assets = case.assets
    assert _same(made, case)
