"""The life of one case, stringing the mechanisms together.

A matter waits for its officer's first stint, and then for the answers to its query, with
no process of its own: it is its own timer (:class:`Matter`). An objection is then ruled
on, and a case to enforce goes on as a SimPy process (:func:`_enforce`) once the answers
are in; a case still owing that only waits for its 3 months leaves its process for the
closing shelf (:mod:`sim.model.closing`), again as its own timer. Waiting so, an open
matter holds no generator and its frames, and no timer object beside its record.

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
from sim.model.case import FOR_ANSWERS, FOR_OFFICE_HOURS, FOR_OFFICER, FOR_STINT_END, Case
from sim.model.clock import URGENT, Wake
from sim.model.closing import CLOSING_HOUR, ClosingWorld, close_case
from sim.model.debtors import Asset
from sim.model.network import Finding, Network, QueryResult, preferred
from sim.model.officers import Court
from sim.model.realisation import Realisation
from sim.model.region import RegionRuntime
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


class Matter(Case):
    """A matter as the world files it: a case that is its own timer at each of its waits,
    with no process or timer object beside it while it waits (its stage: what it waits
    for, :mod:`sim.model.case`).

    Filed (:func:`take`), it books the court's next free officer at the instant a process
    started then would have, and fires again when the stint ends: an objection is then
    ruled on; a case to enforce is investigated and sends its query (:func:`_investigate`),
    then waits as itself for the last answer (and, where something was found to control,
    for its court's office hours, when the officer orders the controls), and goes on as a
    SimPy process (:func:`_enforce`) from there. Each wait takes the place in the event
    order that the process's own wait would have (the same time, priority and order of
    scheduling), and the process goes on at the same point of the order as one that had
    waited (:meth:`sim.model.clock.Clock.start_now`). A case still owing that then only waits
    for its closing does so as itself on the closing shelf (:mod:`sim.model.closing`)."""

    w: CaseWorld
    start: float  # when its first stint started (booked: not negative)
    targets: list[Finding] | None  # what its query found to control, while it waits

    def __init__(
        self,
        w: CaseWorld,
        case_id: int,
        region: RegionRuntime,
        court: Court,
        filed: float,
        claim: float,
        assets: tuple[Asset, ...],
        matter: str,
        debtor_id: int,
        pays_in_pool: bool,
    ) -> None:
        super().__init__(
            case_id, region, court, filed, claim, assets, matter, debtor_id,
            pays_in_pool=pays_in_pool,
        )  # fmt: skip
        self.w = w
        self.start = -1.0
        self.targets = None

    def fire(self) -> None:
        w = self.w
        env = w.env
        stage = self.stage
        if stage == FOR_OFFICER:  # the officer is booked in filing order
            objecting = self.matter == "objection"
            work = self.region.objection_work() if objecting else self.work
            self.start, end = self.court.book(env.now, work)
            self.stage = FOR_STINT_END
            env.call_later(end - env.now, self)
        elif stage == FOR_STINT_END:
            if self.matter == "objection":
                _rule(w, self, self.start)
            else:
                _investigate(w, self)
        elif stage == FOR_ANSWERS:
            targets = self.targets
            self.targets = None
            _answered(w, self, targets if targets is not None else [])
        elif stage == FOR_OFFICE_HOURS:
            targets = self.targets
            assert targets is not None
            self.targets = None
            env.start_now(_enforce(w, self, targets, True))
        else:  # FOR_CLOSING
            w.closing.close(self)


def take(w: CaseWorld, case: Case) -> None:
    """A matter just filed (as its own timer, a :class:`Matter`): an officer takes it."""
    case.stage = FOR_OFFICER
    w.env.call_later(0, case, URGENT)


def _investigate(w: CaseWorld, case: Matter) -> None:
    """The officer's first stint is over (it began at ``case.start``): notices,
    restrictions, the investigation, and the network query over every channel the region
    uses; then the case waits for the last answer, holding what it will control (not its
    debtor's assets, unless an event log is kept: only a log reads them past this point)."""
    env = w.env
    events = w.events
    start = case.start
    case.officer_start = start
    events.officer_started(case, start)
    if case.objects:
        w.object_to(case)
    if case.pays_in_pool:  # restored because the debtor pays what is owed: nothing to query
        env.start_now(_paid_in_pool(w, case))
        return
    result = w.network.query(
        case.region.name, case.assets, env.now, case.seed, case.reworks, events.detailed
    )
    awaited = result.outstanding > 0  # answers from another process (sim/model/answers.py)
    if not awaited:
        _count_requests(w, case, result)
    if not events.detailed:  # past the query only an event log reads them (a row's count)
        case.assets = ()
    # what to control: one finding an asset (the choice reads no time and draws nothing,
    # so it is made now, while the findings are at hand, and only those chosen are kept)
    targets = preferred(result.findings, case.region.preference)
    if awaited:  # the case waits as itself, scheduled when the last answer is known
        case.targets = targets if targets else None
        case.stage = FOR_ANSWERS
        result.case = result.waiter = case
    elif result.last > env.now:  # the case waits as itself (a process's wait, in its place)
        case.targets = targets if targets else None
        case.stage = FOR_ANSWERS
        env.call_later(result.last - env.now, case)
    else:
        _answered(w, case, targets)


def _answered(w: CaseWorld, case: Matter, targets: list[Finding]) -> None:
    """The last answer is in: with something to control, the officer orders the controls
    in office hours (the case waits for them as itself, the process's first wait, in its
    place); then the case goes on as a process."""
    env = w.env
    case.found = len(targets)
    if targets:
        ordered = case.court.calendar.next_open(env.now)
        if ordered > env.now:
            case.targets = targets
            case.stage = FOR_OFFICE_HOURS
            env.call_later(ordered - env.now, case)
            return
    env.start_now(_enforce(w, case, targets, True))


def _paid_in_pool(w: CaseWorld, case: Case) -> Generator[Any, Any, None]:
    """A case restored because its debtor pays what is owed while in the 终本 pool."""
    env = w.env
    money = Realisation(w, case)
    money.add_voluntary(env.now)
    yield from money.run(env.now)
    close_case(w, case, money, env.now)


def _enforce(
    w: CaseWorld, case: Case, targets: list[Finding], in_hours: bool
) -> Generator[Any, Any, None]:
    """A case to enforce, from the last answer to its query (which found ``targets`` to
    control, one finding an asset) to its closing; ``in_hours``: the first controls are
    ordered now (office hours were waited for, if they had to be)."""
    env = w.env
    region = case.region
    court = case.court
    events = w.events
    pays_at = case.officer_start + case.pays_after  # credit punishment: some pay under pressure

    # controls, with rework rounds for failed ones
    money = Realisation(w, case)
    while targets:
        # an officer orders the controls in office hours
        if in_hours:
            in_hours = False
        else:
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


def _count_requests(w: CaseWorld, case: Case, result: QueryResult) -> None:
    """Tell the query and count its requests."""
    w.events.queried(case, result)
    case.queries += _sum(result.requests.values())


def _await_answers(w: CaseWorld, case: Case, result: QueryResult) -> Generator[Any, Any, None]:
    """Count the requests and wait for the last answer."""
    env = w.env
    if result.outstanding > 0:  # answers from another process (sim/model/answers.py)
        wake = Wake()  # scheduled when the last answer is known, where env.wait would be
        result.case = case
        result.waiter = wake
        yield wake
        return
    _count_requests(w, case, result)
    if result.last > env.now:
        yield env.wait(result.last - env.now)
