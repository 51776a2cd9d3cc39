"""The life of one case, stringing the mechanisms together.

A matter waits for its officer's first stint with no process of its own (a timer,
:class:`FirstStint`); an objection is then ruled on, and a case to enforce goes on as a SimPy
process (:func:`handle`); a case still owing that only waits for its 3 months leaves its
process for a timer again (:class:`ClosingWork`). Waiting as timers, an open matter holds
its record and one entry in the clock's queue, not a generator and its frames.

filed -> waits for an officer -> investigation stint (restrictions imposed: credit
punishment starts; perhaps an objection) -> network query over the region's channels ->
answers arrive -> freezes against what was found (in person where the channel cannot act
online; a wrong record, or an asset hard to freeze, fails and is redone after an officer's
rework and a fresh query; a waiting freeze 轮候 takes effect when the earlier one is
released) -> realisation in time order (deductions, sales, provident-fund yearly steps,
voluntary payment; renewals before expiry, lapses) -> case funds paid out -> closed as
fully performed; or, with part of the claim still owed, no sooner than 3 months after
filing, as partly performed or 终本 (terminated for now: nothing realisable found), and
the debtor joins the 终本 pool for what is still owed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol

from simpy.events import URGENT

from sim.model import deduction, freeze
from sim.model.case import Case
from sim.model.clock import Timer
from sim.model.debtors import Asset
from sim.model.freeze import Hold
from sim.model.network import LinkRuntime, Network, QueryResult, preferred
from sim.model.realisation import Realisation, Stages, release
from sim.model.settlement import to_fen
from sim.model.streams import key_of, keyed_sample, keyed_uniform

WRONG, CLOSING_HOUR, APPROVAL = key_of("wrong record"), key_of("closing hour"), key_of("approval")


class CaseWorld(Stages, Protocol):
    """What a case's process uses of the world it runs in (:class:`sim.model.world.World`)."""

    network: Network
    freezes: freeze.FreezeDesk

    def object_to(self, case: Case) -> None: ...

    def close(self, case: Case, at: float) -> None: ...


class FirstStint(Timer):
    """A matter's first officer stint, with no process while the matter waits for it.

    Started at filing (:func:`take`), it books the court's next free officer at the instant
    a process started then would have, and fires again when the stint ends: an objection is
    then ruled on; a case to enforce starts its process (:func:`handle`), which goes on at
    the same point of the event order as a process that had waited for the stint
    (:meth:`sim.model.clock.Clock.start_now`)."""

    __slots__ = ("case", "start", "w")

    def __init__(self, w: CaseWorld, case: Case) -> None:
        self.w = w
        self.case = case
        self.start = -1.0  # when the stint started (not yet booked: negative)

    def fire(self) -> None:
        w, case = self.w, self.case
        env = w.env
        if self.start < 0:  # the officer is booked in filing order
            objecting = case.matter == "objection"
            work = case.region.objection_work() if objecting else case.work
            self.start, end = case.court.book(env.now, work)
            env.call_later(end - env.now, self)
        elif case.matter == "objection":
            _rule(w, case, self.start)
        else:
            env.start_now(handle(w, case, self.start))


def take(w: CaseWorld, case: Case) -> None:
    """A matter just filed: an officer takes it (:class:`FirstStint`)."""
    w.env.call_later(0, FirstStint(w, case), URGENT)


def handle(w: CaseWorld, case: Case, start: float) -> Generator[Any, Any, None]:
    """A case to enforce, from the end of the officer's first stint (which began at
    ``start``) to its closing."""
    env = w.env
    region = case.region
    court = case.court
    events = w.events

    # an officer took the case: notices, restrictions, and the investigation
    case.officer_start = start
    events.officer_started(case, start)
    pays_at = start + case.pays_after  # credit punishment: some debtors pay under pressure
    if case.objects:
        w.object_to(case)
    if case.pays_in_pool:  # restored because the debtor pays what is owed: nothing to query
        money = Realisation(w, case)
        money.add_voluntary(env.now)
        yield from money.run(env.now)
        _close(w, case, money, env.now)
        return

    # network query over every channel the region uses
    def wrong(via: LinkRuntime, asset: Asset) -> bool:  # keyed: same case, same records
        return keyed_uniform(case.seed, WRONG, via.key, asset.index, case.reworks) < (
            via.error_probability
        )

    result = w.network.query(
        region.name, case.assets, env.now, wrong, events.detailed, seed=case.seed
    )
    yield from _await_answers(w, case, result)
    targets = preferred(result.findings, region.preference)
    case.found = len(targets)

    # controls, with rework rounds for failed ones
    money = Realisation(w, case)
    while targets:
        # an officer orders the controls in office hours
        ordered = court.calendar.next_open(env.now)
        if ordered > env.now:
            yield env.timeout(ordered - env.now)
        started = env.now
        in_person = [f for f in targets if freeze.needs_officer(f)]
        if in_person:
            yield from court.work(
                region.travel() + sum(region.offline_control() for _ in in_person)
            )
        holds, failures = w.freezes.apply(
            region.name, targets, started, env.now, case.seed, case.reworks
        )
        events.controlled(case, holds, failures)
        # deductions an officer does in person, in one trip, once the freezes hold
        trip = [
            h
            for h in holds
            if not h.waiting and not deduction.is_sold(h) and deduction.needs_officer(h)
        ]
        if trip:
            ready = max(h.at for h in trip)
            if ready > env.now:
                yield env.timeout(ready - env.now)
            yield from court.work(region.travel() + sum(region.offline_control() for _ in trip))
        for h in holds:
            money.add(h, env.now if h in trip else None)
        if not failures or money.planned >= case.claim:
            break
        known = max(x.at for x in failures)
        if known > env.now:
            yield env.timeout(known - env.now)
        yield from court.work(sum(region.rework() for _ in failures))
        case.reworks += 1
        events.reworked(case, env.now)
        result = w.network.requery([x.finding for x in failures], env.now, wrong, events.detailed)
        yield from _await_answers(w, case, result)
        targets = result.findings

    # money in time order, then closing
    terminate_at = max(env.now, case.filed + w.scenario.terminated_pool.min_days_after_filing)
    money.add_voluntary(pays_at, case.pays_share)
    yield from money.run(terminate_at)
    _close(w, case, money, terminate_at)


def _close(w: CaseWorld, case: Case, money: Realisation, terminate_at: float) -> None:
    """Close the case once its money is in: performed, in office hours; still owing (终本,
    partly performed), once the conditions hold (no sooner than ``terminate_at``, 3 months
    after filing), after an officer's closing work and the approval.

    A case still owing usually waits for ``terminate_at`` with nothing else to do: its
    process ends here and a timer books the closing work then (:class:`ClosingWork`; a
    waiting generator, its frames and its process were most of what an open matter held)."""
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
        env.call_later(ready - env.now, ClosingWork(w, case, money.holds, work))
    else:
        _approve(w, case, money.holds, case.court.book(env.now, work)[1])


@dataclass(slots=True)
class ClosingWork(Timer):
    """An officer's closing work on a case still owing, booked when its timer fires: all an
    open matter waiting for its 3 months holds (and its holds, released when it closes)."""

    w: CaseWorld
    case: Case
    holds: list[Hold]
    work: float

    def fire(self) -> None:
        _, done = self.case.court.book(self.w.env.now, self.work)
        _approve(self.w, self.case, self.holds, done)


def _approve(w: CaseWorld, case: Case, holds: list[Hold], done: float) -> None:
    """The rest is owed and the closing work is done at ``done``: after the approval, the
    case closes, what it still holds is released and its debtor joins the 终本 pool."""
    approval = keyed_sample(w.scenario.terminated_pool.approval_working_days, case.seed, APPROVAL)
    close_at = case.court.calendar.advance(done, approval) if approval > 0 else done
    release(w.events, case, holds, close_at)
    w.close(case, close_at)


def _rule(w: CaseWorld, case: Case, start: float) -> None:
    """An objection (执行异议), a matter of its own: its officer's work (which began at
    ``start``) is done; the ruling closes it."""
    case.officer_start = start
    w.events.officer_started(case, start)
    case.outcome = "objection"
    due = max(w.env.now, case.filed + case.region.objection_days())
    w.close(case, case.court.calendar.in_hours(due, keyed_uniform(case.seed, CLOSING_HOUR)))


def _await_answers(w: CaseWorld, case: Case, result: QueryResult) -> Generator[Any, Any, None]:
    """Count the requests and wait for the last answer."""
    env = w.env
    w.events.queried(case, result)
    case.queries += sum(result.requests.values())
    if result.last > env.now:
        yield env.timeout(result.last - env.now)
