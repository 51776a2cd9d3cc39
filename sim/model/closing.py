"""Closing a case: performed, in office hours; still owing (终本, partly performed), after the
3 months, an officer's closing work and the approval.

Most of a national run's open matters are cases still owing that only wait for their
3 months to pass (in the national scenario at the horizon, about nine in ten). Such a case
waits on the :class:`ClosingShelf`: its record as a row (its numbers packed in a byte
array, unboxed; its references in a list) and a small timer, not a
:class:`~sim.model.case.Case` object with its boxed numbers, its assets and holds, and a
timer holding them. When the timer fires, the case is
made again from its row, field for field, and the closing goes on as it would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from operator import itemgetter
from struct import Struct
from typing import Final

from mypy_extensions import mypyc_attr

from sim.model.case import Case
from sim.model.clock import Timer
from sim.model.freeze import Hold
from sim.model.realisation import Realisation, Stages, release
from sim.model.settlement import to_fen
from sim.model.streams import inverse, key_of, keyed_uniform

CLOSING_HOUR: Final = key_of("closing hour")  # Final: read from C variables
APPROVAL: Final = key_of("approval")


@mypyc_attr(allow_interpreted_subclasses=True)  # test_closing's stand-in world extends it
class ClosingWorld(Stages):
    """What closing uses of the world (:class:`sim.model.world.World`, which extends it)."""

    closing: ClosingShelf

    def close(self, case: Case, at: float) -> None:
        """Close ``case`` on the books at ``at`` (the world does)."""
        raise NotImplementedError


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
    approval = w.closing.approval.at(keyed_uniform(case.seed, APPROVAL))
    close_at = case.court.calendar.advance(done, approval) if approval > 0 else done
    release(w.events, case, holds, close_at)
    w.close(case, close_at)


# A case's fields as the shelf keeps them: its numbers packed in one row of a byte array
# (the closing work first, then the floats, then the integers), the references in a list
# of fixed stride (then the assets and what the case still holds).
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
_INTS = ("case_id", "debtor_id", "found", "queries", "reworks")
# the seed is a reference too: a held int (:func:`sim.model.streams.held`), 65 bits
_OBJECTS = ("region", "court", "matter", "outcome", "objects", "pays_in_pool", "seed")
_ROW: Final = Struct(f"=d{len(_FLOATS)}d{len(_INTS)}q")
_NO: Final = len(_OBJECTS) + 2


def _numbers(case: Case) -> tuple[float | int, ...]:
    """The case's :data:`_FLOATS`, then its :data:`_INTS` (read directly: compiled, not by
    name; ``test_closing`` holds the two orders to each other)."""
    return (
        case.filed,
        case.claim,
        case.work,
        case.pays_after,
        case.pays_share,
        case.officer_start,
        case.closed,
        case.recovered,
        case.last_disbursed,
        case.case_id,
        case.debtor_id,
        case.found,
        case.queries,
        case.reworks,
    )


def _references(case: Case) -> tuple[object, ...]:
    """The case's :data:`_OBJECTS`, in that order."""
    return (
        case.region,
        case.court,
        case.matter,
        case.outcome,
        case.objects,
        case.pays_in_pool,
        case.seed,
    )


# a row's values as read back (numbers, then references), in the order of Case's fields
_KEPT = ("closing work", *_FLOATS, *_INTS, *_OBJECTS, "assets", "holds")
_in_field_order: Final = itemgetter(*(_KEPT.index(f.name) for f in fields(Case)))
_CLEARED: Final = (None,) * _NO


class ClosingShelf:
    """Cases still owing that wait for their closing work, as rows: the numbers packed in a
    byte array (:data:`_ROW`), the references in a list of fixed stride.

    A row is taken by :meth:`shelve` and given back when its timer fires (:meth:`close`);
    rows given back are used again, so the shelf is as long as the most cases that ever
    waited at once. Every :class:`~sim.model.case.Case` field is kept (``test_closing``
    holds the lists to the dataclass's fields), so the case made again equals the one
    shelved, with one exception: unless the event sink is ``detailed`` (an event log), the
    debtor's assets and the holds are not kept. Past this point only a log reads them (the
    count of assets for the case's row, the holds released as it closes: a release is news
    to the log alone), and they are most of what a waiting case held besides its record.
    """

    def __init__(self, w: ClosingWorld) -> None:
        self.w = w
        # the approval after the closing work (keyed by the case; see _approve)
        self.approval = inverse(w.scenario.terminated_pool.approval_working_days)
        self.numbers = bytearray()  # rows of _ROW
        self.objects: list[object] = []
        self.free: list[int] = []

    def __len__(self) -> int:
        return len(self.objects) // _NO - len(self.free)

    def shelve(self, case: Case, holds: Sequence[Hold], work: float, delay: float) -> None:
        """Keep ``case`` (with what it ``holds``) and book its closing ``work`` (working
        days) in ``delay`` days, in the order a timer scheduled now would fire."""
        if self.w.events.detailed:
            objects = (*_references(case), case.assets, tuple(holds) if holds else ())
        else:  # nothing reads them once the case waits here (see the class)
            objects = (*_references(case), (), ())
        if self.free:
            row = self.free.pop()
            _ROW.pack_into(self.numbers, row * _ROW.size, work, *_numbers(case))
            self.objects[row * _NO : (row + 1) * _NO] = objects
        else:
            row = len(self.objects) // _NO
            self.numbers += _ROW.pack(work, *_numbers(case))
            self.objects.extend(objects)
        self.w.env.call_later(delay, ClosingWork(self, row))

    def take(self, row: int) -> tuple[Case, tuple[Hold, ...], float]:
        """The case of ``row`` made again, what it holds and its closing work; the row is
        free again."""
        kept = _ROW.unpack_from(self.numbers, row * _ROW.size)
        kept += tuple(self.objects[row * _NO : (row + 1) * _NO])
        self.objects[row * _NO : (row + 1) * _NO] = _CLEARED  # let the assets and holds go
        self.free.append(row)
        return Case(*_in_field_order(kept)), kept[-1], kept[0]

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
