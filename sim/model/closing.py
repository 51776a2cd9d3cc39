"""Closing a case: performed, in office hours; still owing (终本, partly performed), after the
3 months, an officer's closing work and the approval.

Most of a national run's open matters are cases still owing that only wait for their
3 months to pass (in the national scenario at the horizon, about nine in ten). Such a case
waits on the :class:`ClosingShelf`: its record, compiled (its numbers unboxed), scheduled
as its own timer, with no process, generator or money timeline; unless an event log is
kept, without its debtor's assets and the holds either. When it fires, the closing goes on
as it would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from mypy_extensions import mypyc_attr

from sim.model.case import FOR_CLOSING, Case
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


class ClosingShelf:
    """Cases still owing that wait for their closing work, each scheduled as its own timer
    (the case's stage :data:`~sim.model.case.FOR_CLOSING`) until it fires.

    Unless the event sink is ``detailed`` (an event log), the debtor's assets and the holds
    are let go as the case is shelved: past this point only a log reads them (the count of
    assets for the case's row, the holds released as it closes: a release is news to the
    log alone), and they are most of what a waiting case held besides its record. (The
    record was once packed into a row of a byte array, when a case's numbers were boxed;
    compiled, a case takes 208 bytes, about what its row took, and shelving and taking it
    back cost a tenth of a baseline run.)
    """

    def __init__(self, w: ClosingWorld) -> None:
        self.w = w
        # the approval after the closing work (keyed by the case; see _approve)
        self.approval = inverse(w.scenario.terminated_pool.approval_working_days)
        self.waiting = 0  # cases on the shelf

    def __len__(self) -> int:
        return self.waiting

    def shelve(self, case: Case, holds: Sequence[Hold], work: float, delay: float) -> None:
        """Keep ``case`` (with what it ``holds``) and book its closing ``work`` (working
        days) in ``delay`` days, in the order a timer scheduled now would fire (the case is
        that timer: its stage :data:`~sim.model.case.FOR_CLOSING`)."""
        if self.w.events.detailed:
            case.kept = tuple(holds) if holds else ()
        else:  # nothing reads them once the case waits here (see the class)
            case.assets = ()
        case.closing_work = work
        case.stage = FOR_CLOSING
        self.waiting += 1
        self.w.env.call_later(delay, case)

    def close(self, case: Case) -> None:
        """The wait of ``case`` on the shelf is over: an officer does the closing work, then
        the approval."""
        self.waiting -= 1
        holds, case.kept = case.kept, ()
        _, done = case.court.book(self.w.env.now, case.closing_work)
        _approve(self.w, case, holds, done)
