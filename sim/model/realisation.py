"""Realisation: a case's money in time order, with its freezes renewed or lapsing.

After the controls, a case holds some assets. Each becomes money at a time: a deduction
after the freeze takes effect (online, or by an officer in person), the proceeds of a sale,
a provident fund's yearly steps, or a debtor who pays (all or part) under credit punishment. Freezes
must be renewed before they expire (online, or by an officer in person); a renewal missed
or made too late lets the freeze lapse, and what it held is lost to the case.

The timeline is a heap of items processed in time order. Items that need an officer
(in-person renewals and deductions) wait for their time, since officers serve in time
order; the rest are computed directly, so a case with nothing to renew costs no events.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator, Sequence
from typing import Any, Final

from mypy_extensions import mypyc_attr

from sim.model import deduction
from sim.model.calendar import CalendarYears
from sim.model.case import Case
from sim.model.clock import Clock
from sim.model.disbursement import CaseFunds
from sim.model.events import EventKind, EventSink
from sim.model.freeze import FreezeDesk, Hold
from sim.model.sale import SaleStage
from sim.model.settlement import FEN_PER_YUAN, FundLedger, Settlement, to_fen
from sim.model.streams import compiled_or, key_of, keyed_uniform
from sim.scenario.schema import Scenario

# Python's round (a builtin) held in a C variable (Final), not looked up by name
_round: Final = round

# heapq's functions, or the same with timed entries compared in C (sim/model/_heap.c), held
# in C variables (Final), not looked up by name at each call
_heappop: Final = compiled_or("heappop", heapq.heappop, "sim.model._heap")
_heappush: Final = compiled_or("heappush", heapq.heappush, "sim.model._heap")


@mypyc_attr(allow_interpreted_subclasses=True)  # a test's stand-in world extends it too
class Stages:
    """What a case's money timeline uses of the world it runs in. The world
    (:class:`sim.model.world.World`) extends it, through :class:`ClosingWorld` and
    :class:`CaseWorld`, and sets these: compiled code reads them at their places in the
    object, as it does any compiled attribute, where it reads a protocol's by name."""

    env: Clock
    scenario: Scenario
    years: CalendarYears
    sale: SaleStage
    funds: CaseFunds
    events: EventSink
    fund_ledger: FundLedger
    freezes: FreezeDesk


# keys of the case's draws (Final: compiled code reads C variables, not the module's dict)
MISSED: Final = key_of("renewal missed")
DEDUCT: Final = key_of("deduct")
RENEW: Final = key_of("renew")
YEAR_STEP: Final = key_of("year step")
PAYS: Final = key_of("pays")

# item kinds, in the order they are handled at equal times
CHECKPOINT: Final = 0
IN_PERSON: Final = 1
MONEY: Final = 2
VOLUNTARY: Final = 3


class Realisation:
    """The money timeline of one case."""

    def __init__(self, w: Stages, case: Case) -> None:
        self.w = w
        self.case = case
        self.settlement = Settlement(
            case.claim, w.years, case.region.provident_fund_cap, w.fund_ledger, case.debtor_id
        )
        self.calendar = case.court.calendar
        self.heap: list[tuple[float, int, int, Hold | None, float, float]] = []
        self.seq = 0
        self.holds: list[Hold] = []
        self.planned = 0.0  # money the holds could give, for stopping rework early
        self.end = w.env.now  # latest money, payout or title transfer
        self.recovered_fen = 0
        self.renewals = 0  # numbers the case's keyed draws
        self.payments: dict[int, int] = {}  # payments so far, by asset number

    # ------------------------------------------------------------ planning
    def _push(
        self, t: float, kind: int, hold: Hold | None, amount: float = 0.0, transfer: float = 0.0
    ) -> None:
        self.seq += 1
        if hold is not None and kind in (MONEY, IN_PERSON):
            hold.pending += 1  # on the hold itself, not in a dict keyed by id(hold)
        _heappush(self.heap, (t, kind, self.seq, hold, amount, transfer))

    def add(self, hold: Hold, deducted_at: float | None = None) -> None:
        """Plan the money of a held asset; ``deducted_at`` when an officer already did it."""
        w = self.w
        self.holds.append(hold)
        self.planned += hold.available
        hold_left = to_fen(hold.available)
        if deduction.is_sold(hold):
            out = w.sale.sell(
                hold.asset.asset_type,
                hold.available,
                hold.effective,
                self.case.seed,
                hold.asset.index,
            )
            if out.sold:
                self._push(out.paid_at, MONEY, hold, to_fen(out.proceeds), out.transferred_at)
            else:
                w.events.sale_failed(self.case, hold, out.transferred_at)
        elif deducted_at is not None:
            self._push(deducted_at, MONEY, hold, hold_left)
        elif deduction.needs_officer(hold):
            self._push(hold.effective, IN_PERSON, hold, hold_left)
        else:
            # the officer orders it online in office hours once the freeze bites
            ordered = self.calendar.next_open(hold.effective)
            hold.deduct_ordered = ordered
            done = hold.finding.via.control_done(ordered, self.case.seed, DEDUCT, hold.asset.index)
            self._push(done, MONEY, hold, hold_left)
        self._push(max(hold.at, hold.expires - w.freezes.renew_lead_days), CHECKPOINT, hold)

    def add_voluntary(self, at: float, share: float = 1.0) -> None:
        """The debtor pays at ``at`` (at the court, in its office hours) ``share`` of what is
        then still owed (1: all of it)."""
        if at < math.inf:
            hour = keyed_uniform(self.case.seed, PAYS)
            self._push(self.calendar.in_hours(at, hour), VOLUNTARY, None, share)

    # ------------------------------------------------------------ running
    def run(self, terminate_at: float) -> Generator[Any, Any, None]:
        """Process the timeline; ``terminate_at`` is the earliest a case that still owes
        can close (a voluntary payment counts while money is still coming, or before then)."""
        env = self.w.env
        settlement = self.settlement
        heap = self.heap
        while heap and not settlement.paid_off:
            t, kind, _, hold, amount, transfer = _heappop(heap)
            if kind == MONEY:
                assert hold is not None
                hold.pending -= 1
                if t > hold.expires:  # lapsed before the money came
                    continue
                self._money(t, hold, int(amount), transfer)
            elif kind == CHECKPOINT:
                assert hold is not None
                if hold.pending > 0:
                    yield from self._renew(t, hold)
            elif kind == IN_PERSON:
                assert hold is not None
                hold.pending -= 1
                if t > hold.expires:
                    continue
                if t > env.now:
                    yield env.wait(t - env.now)
                region = self.case.region
                work = region.travel() + region.offline_control()
                _, done = self.case.court.book(env.now, work)
                self._push(done, MONEY, hold, amount)
            else:  # VOLUNTARY
                ongoing = any(h.pending > 0 for h in self.holds)
                if ongoing or t <= terminate_at:
                    fen = settlement.take_all() if amount >= 1 else settlement.take_share(amount)
                    self._pay(t, None, fen, EventKind.voluntary, 0.0)

    def _money(self, t: float, hold: Hold, amount: int, transfer: float) -> None:
        fund = deduction.is_provident_fund(hold)
        taken = self.settlement.take(t, amount, provident_fund=fund)
        kind = EventKind.sale if deduction.is_sold(hold) else EventKind.deduct
        if taken > 0:
            self._pay(t, hold, taken, kind, transfer)
        hold.deduct_ordered = math.nan  # a provident fund's later steps need no new order
        left = amount - taken
        if fund and left > 0 and not self.settlement.paid_off:
            # the next step on a working day of the new year, in office hours
            year_start = self.w.years.next_year_start(t)
            share = keyed_uniform(self.case.seed, YEAR_STEP, hold.asset.index, _round(year_start))
            self._push(self.calendar.in_hours(year_start, share), MONEY, hold, left)

    def _pay(self, t: float, hold: Hold | None, fen: int, kind: EventKind, transfer: float) -> None:
        w, case = self.w, self.case
        if fen <= 0:
            return
        yuan = fen / FEN_PER_YUAN
        self.recovered_fen += fen
        source = hold.asset.index if hold is not None else -1  # -1: voluntary payment
        self.payments[source] = step = self.payments.get(source, 0) + 1
        paid = w.funds.paid_out_at(t, case.seed, source, step, self.calendar)
        w.events.paid(case, hold, t, paid, yuan, kind)
        case.recovered += yuan
        if math.isnan(case.last_disbursed) or paid > case.last_disbursed:
            case.last_disbursed = paid
        self.end = max(max(self.end, paid), transfer)  # two-argument maxes are compiled

    def _renew(self, t: float, hold: Hold) -> Generator[Any, Any, None]:
        w, env = self.w, self.w.env
        spec = w.scenario.freeze
        miss = spec.renewal_miss_probability
        self.renewals += 1
        if (
            miss > 0
            and keyed_uniform(self.case.seed, MISSED, hold.asset.index, self.renewals) < miss
        ):
            done = math.inf
        elif hold.finding.via.online_freeze:
            hold.ordered = self.calendar.next_open(t)
            done = hold.finding.via.control_done(
                hold.ordered, self.case.seed, RENEW, hold.asset.index, self.renewals
            )
        else:
            if t > env.now:
                yield env.wait(t - env.now)
            region = self.case.region
            _, done = self.case.court.book(env.now, region.travel() + region.offline_control())
        if done <= hold.expires:
            hold.expires += hold.period
            w.events.renewal(self.case, hold, done, True)
            self._push(max(done, hold.expires - spec.renew_lead_days), CHECKPOINT, hold)
        else:
            w.events.renewal(self.case, hold, hold.expires, False)

    def release(self, at: float) -> None:
        """Unfreeze what is still held when the case closes."""
        release(self.w.events, self.case, self.holds, at)


def release(events: EventSink, case: Case, holds: Sequence[Hold], at: float) -> None:
    """Unfreeze what of ``holds`` is still held when ``case`` closes at ``at``."""
    for hold in holds:
        if hold.expires >= at:
            events.unfrozen(case, hold, at)
