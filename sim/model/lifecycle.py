"""The life of one case, stringing the mechanisms together (two SimPy processes:
:func:`handle` for a case to enforce, :func:`objection` for an objection).

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

from sim.model import deduction, freeze
from sim.model.case import Case
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


def handle(w: CaseWorld, case: Case) -> Generator[Any, Any, None]:
    """A case to enforce, from the officer's first stint to its closing."""
    env = w.env
    region = case.region
    court = case.court
    events = w.events

    # an officer takes the case: notices, restrictions, and the investigation
    start = yield from court.work(case.work)
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
        env.timeout(ready - env.now).callbacks.append(ClosingWork(w, case, money.holds, work))
    else:
        _approve(w, case, money.holds, case.court.book(env.now, work)[1])


@dataclass(slots=True)
class ClosingWork:
    """An officer's closing work on a case still owing, booked when its timer fires: all an
    open matter waiting for its 3 months holds (and its holds, released when it closes)."""

    w: CaseWorld
    case: Case
    holds: list[Hold]
    work: float

    def __call__(self, _: object) -> None:
        _, done = self.case.court.book(self.w.env.now, self.work)
        _approve(self.w, self.case, self.holds, done)


def _approve(w: CaseWorld, case: Case, holds: list[Hold], done: float) -> None:
    """The rest is owed and the closing work is done at ``done``: after the approval, the
    case closes, what it still holds is released and its debtor joins the 终本 pool."""
    approval = keyed_sample(w.scenario.terminated_pool.approval_working_days, case.seed, APPROVAL)
    close_at = case.court.calendar.advance(done, approval) if approval > 0 else done
    release(w.events, case, holds, close_at)
    w.close(case, close_at)


def objection(w: CaseWorld, case: Case) -> Generator[Any, Any, None]:
    """An objection (执行异议): a matter of its own, an officer's work, then a ruling."""
    region = case.region
    start = yield from case.court.work(region.objection_work())
    case.officer_start = start
    w.events.officer_started(case, start)
    case.outcome = "objection"
    due = max(w.env.now, case.filed + region.objection_days())
    w.close(case, case.court.calendar.in_hours(due, keyed_uniform(case.seed, CLOSING_HOUR)))


def _await_answers(w: CaseWorld, case: Case, result: QueryResult) -> Generator[Any, Any, None]:
    """Count the requests and wait for the last answer."""
    env = w.env
    w.events.queried(case, result)
    case.queries += sum(result.requests.values())
    if result.last > env.now:
        yield env.timeout(result.last - env.now)
