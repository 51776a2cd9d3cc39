"""The event log: an :class:`~sim.results.observer.Observer` that also keeps the rows.

Fed by the same calls as the statistics (one event stream from the model), it turns each
into :class:`~sim.model.events.Event` rows and, as each matter closes (or at the end, for
those still open), a :class:`~sim.model.events.CaseRow`. It is what a replication uses when
records are kept; without records the plain observer runs and nothing grows with simulated
time.
"""

from __future__ import annotations

import math
from operator import attrgetter
from typing import ClassVar

from sim.model.case import Case
from sim.model.events import CaseRow, Event, EventKind
from sim.model.freeze import Failure, Hold
from sim.model.network import QueryResult
from sim.results.observer import Observer

_IN_ORDER = attrgetter("time_days", "case_id")


class EventLog(Observer):
    """Streaming statistics plus every event and case row of one replication."""

    def __init__(
        self,
        warmup: float,
        horizon: float,
        available_officer_days: float = 0.0,
        officers: int = 0,
        replication: int = 0,
        regions: int = 1,
    ) -> None:
        super().__init__(warmup, horizon, available_officer_days, officers, regions)
        self.replication = replication
        self.rows: list[Event] = []
        self.case_rows: list[CaseRow] = []  # closed matters, in closing order
        self.open: dict[int, Case] = {}  # matters not closed yet
        # money paid out to each open matter: (when, yuan), for its case row
        self.paid_out: dict[int, list[tuple[float, float]]] = {}

    detailed: ClassVar[bool] = True  # ask the model for every request's answer

    # ------------------------------------------------------------ the event sink
    def filed(self, case: Case) -> None:
        super().filed(case)
        kind = EventKind.filed if case.matter == "new" else EventKind(case.matter)
        self.rows.append(
            Event(
                self.replication,
                case.filed,
                case.case_id,
                case.region.name,
                kind,
                amount_yuan=case.claim,
                debtor_id=case.debtor_id,
            )
        )
        self.open[case.case_id] = case

    def officer_started(self, case: Case, start: float) -> None:
        super().officer_started(case, start)
        if case.matter != "objection":  # an objection's log is its filing and its closing
            self.rows.append(
                Event(
                    self.replication,
                    start,
                    case.case_id,
                    case.region.name,
                    EventKind.officer_start,
                    debtor_id=case.debtor_id,
                )
            )

    def queried(self, case: Case, result: QueryResult) -> None:
        super().queried(case, result)
        if result.answers is None:
            return
        rep, cid, region, debtor = self.replication, case.case_id, case.region.name, case.debtor_id
        sent = result.sent
        for via, answered, found in result.answers:
            agency = via.desk.name
            self.rows.append(
                Event(
                    rep,
                    sent,
                    cid,
                    region,
                    EventKind.query_sent,
                    "",
                    via.channel,
                    None,
                    agency,
                    None,
                    None,
                    debtor,
                )
            )
            self.rows.append(
                Event(
                    rep,
                    answered,
                    cid,
                    region,
                    EventKind.query_answered,
                    "",
                    via.channel,
                    found,
                    agency,
                    None,
                    None,
                    debtor,
                )
            )

    def controlled(self, case: Case, holds: list[Hold], failures: list[Failure]) -> None:
        super().controlled(case, holds, failures)
        for h in holds:
            kind = EventKind.freeze_waiting if h.waiting else EventKind.freeze
            self._hold_row(case, h.at, kind, h, h.available, h.expires, h.ordered)
        for x in failures:
            f = x.finding
            self.rows.append(
                Event(
                    self.replication,
                    x.at,
                    case.case_id,
                    case.region.name,
                    EventKind.freeze_failed,
                    f.asset.asset_type.value,
                    f.via.channel,
                    f.asset.value_yuan,
                    f.via.desk.name,
                    f.asset.index,
                    None,
                    case.debtor_id,
                    _when(x.ordered),
                )
            )

    def reworked(self, case: Case, at: float) -> None:
        self.rows.append(
            Event(
                self.replication,
                at,
                case.case_id,
                case.region.name,
                EventKind.rework,
                debtor_id=case.debtor_id,
            )
        )

    def paid(
        self, case: Case, hold: Hold | None, at: float, paid_at: float, yuan: float, kind: EventKind
    ) -> None:
        super().paid(case, hold, at, paid_at, yuan, kind)
        if hold is not None:
            asset, channel, aid = (
                hold.asset.asset_type.value,
                hold.finding.via.channel,
                hold.asset.index,
            )
        else:  # a voluntary payment
            asset, channel, aid = "", "", None
        ordered = _when(hold.deduct_ordered) if hold is not None else None
        for t, what in ((at, kind), (paid_at, EventKind.disbursed)):
            self.rows.append(
                Event(
                    self.replication,
                    t,
                    case.case_id,
                    case.region.name,
                    what,
                    asset,
                    channel,
                    yuan,
                    "",
                    aid,
                    None,
                    case.debtor_id,
                    ordered if what is EventKind.deduct else None,
                )
            )
        self.paid_out.setdefault(case.case_id, []).append((paid_at, yuan))

    def sale_failed(self, case: Case, hold: Hold, at: float) -> None:
        self._hold_row(case, at, EventKind.sale_failed, hold, hold.available, None)

    def renewal(self, case: Case, hold: Hold, at: float, ok: bool) -> None:
        super().renewal(case, hold, at, ok)
        kind = EventKind.freeze_renewed if ok else EventKind.freeze_lapsed
        ordered = hold.ordered if ok else math.nan
        self._hold_row(case, at, kind, hold, hold.available, hold.expires, ordered)

    def unfrozen(self, case: Case, hold: Hold, at: float) -> None:
        self._hold_row(case, at, EventKind.unfreeze, hold, None, hold.expires)

    def closed(self, case: Case) -> None:
        super().closed(case)
        self.rows.append(
            Event(
                self.replication,
                case.closed,
                case.case_id,
                case.region.name,
                EventKind.closed,
                amount_yuan=case.recovered,
                debtor_id=case.debtor_id,
            )
        )
        del self.open[case.case_id]
        self.case_rows.append(self._case_row(case, self.horizon))
        self.paid_out.pop(case.case_id, None)

    # ------------------------------------------------------------ rows
    def _hold_row(
        self,
        case: Case,
        t: float,
        kind: EventKind,
        hold: Hold,
        amount: float | None,
        expires: float | None,
        ordered: float = math.nan,
    ) -> None:
        via = hold.finding.via
        self.rows.append(
            Event(
                self.replication,
                t,
                case.case_id,
                case.region.name,
                kind,
                hold.asset.asset_type.value,
                via.channel,
                amount,
                via.desk.name,
                hold.asset.index,
                expires,
                case.debtor_id,
                _when(ordered),
            )
        )

    def _case_row(self, case: Case, until: float) -> CaseRow:
        paid_out = self.paid_out.get(case.case_id, ())
        paid = sum(a for t, a in paid_out if t < until)
        last = max((t for t, _ in paid_out if t < until), default=math.nan)
        closed = case.closed < until
        return CaseRow(
            self.replication,
            case.case_id,
            case.region.name,
            case.court.name,
            case.matter,
            case.debtor_id,
            case.filed,
            case.officer_start,
            case.closed if closed else math.nan,
            case.outcome if closed else "open",
            case.claim,
            paid,
            last,
            len(case.assets),
            case.found,
            case.queries,
            case.reworks,
        )

    def sorted_rows(self) -> list[Event]:
        """Event rows in time order (the model may log a stage's outcome when it is decided)."""
        return sorted(self.rows, key=_IN_ORDER)

    def all_case_rows(self) -> list[CaseRow]:
        """Every matter: those closed, in closing order, then those still open at the horizon."""
        horizon = self.horizon
        return self.case_rows + [self._case_row(c, horizon) for c in self.open.values()]


def _when(t: float) -> float | None:
    """A time for the log (None where there is none: NaN)."""
    return None if math.isnan(t) else t
