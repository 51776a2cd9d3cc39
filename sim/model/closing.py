"""Closing a case: performed, in office hours; still owing (终本, partly performed), after the
3 months, an officer's closing work and the approval.

Most of a national run's open matters are cases still owing that only wait for their
3 months to pass (in the national scenario at the horizon, about nine in ten). Such a case
waits on the :class:`ClosingShelf`: its record as a row of typed columns (its numbers
unboxed) and a small timer, not a :class:`~sim.model.case.Case` object with its boxed
numbers, its assets and holds, and a timer holding them. When the timer fires, the case is
made again from its row, field for field, and the closing goes on as it would have.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from operator import attrgetter
from typing import Any, Protocol

from sim.model.case import Case
from sim.model.clock import Clock, Timer
from sim.model.events import EventSink
from sim.model.freeze import Hold
from sim.model.realisation import Realisation, release
from sim.model.settlement import to_fen
from sim.model.streams import key_of, keyed_sample, keyed_uniform
from sim.scenario.schema import Scenario

CLOSING_HOUR, APPROVAL = key_of("closing hour"), key_of("approval")


class ClosingWorld(Protocol):
    """What closing uses of the world (:class:`sim.model.world.World`)."""

    env: Clock
    events: EventSink
    scenario: Scenario

    @property
    def closing(self) -> ClosingShelf: ...

    def close(self, case: Case, at: float) -> None: ...


def close_case(w: ClosingWorld, case: Case, money: Realisation, terminate_at: float) -> None:
    """Close the case once its money is in: performed, in office hours; still owing (终本,
    partly performed), once the conditions hold (no sooner than ``terminate_at``, 3 months
    after filing), after an officer's closing work and the approval.

    A case still owing usually waits for ``terminate_at`` with nothing else to do: its
    process ends here and it waits on the shelf (:class:`ClosingShelf`) until a timer books
    the closing work then."""
    env = w.env
    calendar = case.court.calendar
    if to_fen(case.recovered) >= to_fen(case.claim):
        case.outcome = "fully_performed"
        due = max(money.end, env.now)
        close_at = calendar.in_hours(due, keyed_uniform(case.seed, CLOSING_HOUR))
        money.release(close_at)
        w.close(case, close_at)
        return
    case.outcome = "partly_performed" if case.recovered > 0 else "terminated_for_now"
    ready = max(money.end, terminate_at)
    work = case.region.closing_work()
    if work <= 0:
        done = calendar.in_hours(ready, keyed_uniform(case.seed, CLOSING_HOUR))
        _approve(w, case, money.holds, done)
    elif ready > env.now:
        w.closing.shelve(case, money.holds, work, ready - env.now)
    else:
        _approve(w, case, money.holds, case.court.book(env.now, work)[1])


def _approve(w: ClosingWorld, case: Case, holds: Sequence[Hold], done: float) -> None:
    """The rest is owed and the closing work is done at ``done``: after the approval, the
    case closes, what it still holds is released and its debtor joins the 终本 pool."""
    approval = keyed_sample(w.scenario.terminated_pool.approval_working_days, case.seed, APPROVAL)
    close_at = case.court.calendar.advance(done, approval) if approval > 0 else done
    release(w.events, case, holds, close_at)
    w.close(case, close_at)


# A case's fields as the shelf keeps them, in three columns of fixed stride; the closing
# work is kept with the floats, and the assets and what the case still holds last with the
# objects.
_FLOATS = (
    "filed",
    "claim",
    "work",
    "pays_after",
    "pays_share",
    "officer_start",
    "closed",
    "recovered",
    "last_disbursed",
)
_INTS = ("case_id", "debtor_id", "seed", "found", "queries", "reworks")
_OBJECTS = ("region", "court", "matter", "outcome", "objects", "pays_in_pool")
_NF, _NI, _NO = len(_FLOATS) + 1, len(_INTS), len(_OBJECTS) + 2
_FIELDS = (*_FLOATS, *_INTS, *_OBJECTS, "assets")
_float_fields, _int_fields = attrgetter(*_FLOATS), attrgetter(*_INTS)
_object_fields = attrgetter(*_OBJECTS)
_CLEARED = (None,) * _NO


class ClosingShelf:
    """Cases still owing that wait for their closing work, as rows of typed columns.

    A row is taken by :meth:`shelve` and given back when its timer fires (:meth:`close`);
    rows given back are used again, so the columns are as long as the most cases that ever
    waited at once. Every :class:`~sim.model.case.Case` field is kept (``test_closing``
    holds the lists to the dataclass's fields), so the case made again equals the one
    shelved, with one exception: unless the event sink is ``detailed`` (an event log), the
    debtor's assets and the holds are not kept. Past this point only a log reads them (the
    count of assets for the case's row, the holds released as it closes: a release is news
    to the log alone), and they are most of what a waiting case held besides its record.
    """

    def __init__(self, w: ClosingWorld) -> None:
        self.w = w
        self.floats = array("d")
        self.ints = array("q")  # case seeds are below 2**62
        self.objects: list[object] = []
        self.free: list[int] = []

    def __len__(self) -> int:
        return len(self.objects) // _NO - len(self.free)

    def shelve(self, case: Case, holds: Sequence[Hold], work: float, delay: float) -> None:
        """Keep ``case`` (with what it ``holds``) and book its closing ``work`` (working
        days) in ``delay`` days, in the order a timer scheduled now would fire."""
        floats = (*_float_fields(case), work)
        ints = _int_fields(case)
        if self.w.events.detailed:
            objects = (*_object_fields(case), case.assets, tuple(holds) if holds else ())
        else:  # nothing reads them once the case waits here (see the class)
            objects = (*_object_fields(case), (), ())
        if self.free:
            row = self.free.pop()
            self.floats[row * _NF : (row + 1) * _NF] = array("d", floats)
            self.ints[row * _NI : (row + 1) * _NI] = array("q", ints)
            self.objects[row * _NO : (row + 1) * _NO] = objects
        else:
            row = len(self.objects) // _NO
            self.floats.extend(floats)
            self.ints.extend(ints)
            self.objects.extend(objects)
        self.w.env.call_later(delay, ClosingWork(self, row))

    def take(self, row: int) -> tuple[Case, tuple[Hold, ...], float]:
        """The case of ``row`` made again, what it holds and its closing work; the row is
        free again."""
        *floats, work = self.floats[row * _NF : (row + 1) * _NF]
        ints = self.ints[row * _NI : (row + 1) * _NI]
        *objects, holds = self.objects[row * _NO : (row + 1) * _NO]
        self.objects[row * _NO : (row + 1) * _NO] = _CLEARED  # let the assets and holds go
        self.free.append(row)
        fields: dict[str, Any] = dict(zip(_FIELDS, (*floats, *ints, *objects), strict=True))
        return Case(**fields), holds, work  # type: ignore[return-value]

    def close(self, row: int) -> None:
        """The timer of ``row`` fired: an officer does the closing work, then the approval."""
        case, holds, work = self.take(row)
        _, done = case.court.book(self.w.env.now, work)
        _approve(self.w, case, holds, done)


class ClosingWork(Timer):
    """The timer of a case on the shelf: books its closing work when it fires."""

    __slots__ = ("row", "shelf")

    def __init__(self, shelf: ClosingShelf, row: int) -> None:
        self.shelf = shelf
        self.row = row

    def fire(self) -> None:
        self.shelf.close(self.row)
