"""The life of one case, stringing the mechanisms together.

A matter waits for its officer's first stint with no process of its own (a timer,
:class:`FirstStint`); an objection is then ruled on, and a case to enforce goes on as a SimPy
process (:func:`handle`); a case still owing that only waits for its 3 months leaves its
process for the closing shelf (:mod:`sim.model.closing`: its record held by a timer).
Waiting so, an open matter holds no generator and its frames.

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
from typing import Any, Final

from mypy_extensions import mypyc_attr

from sim.model import deduction, freeze
from sim.model.case import Case
from sim.model.clock import URGENT, Timer
from sim.model.closing import CLOSING_HOUR, ClosingWorld, close_case
from sim.model.network import Network, QueryResult, preferred
from sim.model.realisation import Realisation
from sim.model.streams import keyed_uniform
from sim.model.terminated_pool import TerminatedPool

# builtins held in C variables (Final), not looked up in the builtins module at each call
_max: Final = max
_sum: Final = sum


@mypyc_attr(allow_interpreted_subclasses=True)
class CaseWorld(ClosingWorld):
    """What a case's process uses of the world it runs in (:class:`sim.model.world.World`,
    which extends it)."""

    network: Network
    pool: TerminatedPool

    def object_to(self, case: Case) -> None:
        """File the objection ``case`` raises (the world does)."""
        raise NotImplementedError


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
        close_case(w, case, money, env.now)
        return

    # network query over every channel the region uses
    result = w.network.query(
        region.name, case.assets, env.now, case.seed, case.reworks, events.detailed
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
            yield env.wait(ordered - env.now)
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
            ready = _max(h.at for h in trip)
            if ready > env.now:
                yield env.wait(ready - env.now)
            yield from court.work(region.travel() + sum(region.offline_control() for _ in trip))
        for h in holds:
            money.add(h, env.now if h in trip else None)
        if not failures or money.planned >= case.claim:
            break
        known = _max(x.at for x in failures)
        if known > env.now:
            yield env.wait(known - env.now)
        yield from court.work(sum(region.rework() for _ in failures))
        case.reworks += 1
        events.reworked(case, env.now)
        result = w.network.requery(
            [x.finding for x in failures], env.now, case.seed, case.reworks, events.detailed
        )
        yield from _await_answers(w, case, result)
        targets = result.findings

    # money in time order, then closing
    terminate_at = max(env.now, case.filed + w.pool.min_days_after_filing)
    money.add_voluntary(pays_at, case.pays_share)
    yield from money.run(terminate_at)
    close_case(w, case, money, terminate_at)


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
    case.queries += _sum(result.requests.values())
    if result.last > env.now:
        yield env.wait(result.last - env.now)
