"""What the model emits: one typed stream of events, and the flat records made from it.

The model collects no statistics itself (SimPy's way: monitoring is a consumer's business).
As a case moves on it tells an :class:`EventSink` what happened, once, with the objects
involved (the case, the hold, the query's result). Consumers implement the sink:
:class:`sim.results.observer.Observer` keeps running sums for the headline metrics, and
:class:`sim.results.eventlog.EventLog` (an observer that also keeps rows) turns the same
calls into :class:`Event` and :class:`CaseRow` records, so the event log and the streaming
statistics are fed by one stream and cannot disagree.

The records are flat, with the same column names wherever they appear (``events.csv``,
``cases.csv``, the Python API's dicts, the demand on the query API):

- :class:`Event`: one row per event (:class:`EventKind` names what happened);
- :class:`CaseRow`: one row per matter (a new case, a restored one, an objection).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from mypy_extensions import mypyc_attr

from sim.model.officers import WorkLog

if TYPE_CHECKING:
    from sim.model.case import Case
    from sim.model.freeze import Failure, Hold
    from sim.model.network import QueryResult


class EventKind(StrEnum):
    """What an event row records (str-valued: the CSV holds the value)."""

    filed = "filed"  # a new case is filed in a court
    restored = "restored"  # 恢复执行: a 终本 case restored as a new matter
    objection = "objection"  # 执行异议: an objection, a matter of its own
    officer_start = "officer_start"  # an officer starts on the case
    query_sent = "query_sent"  # one request to one agency over one channel
    query_answered = "query_answered"  # its answer reaches the court (one row per request)
    freeze = "freeze"  # a control took hold of an asset (expires_days: until when)
    freeze_waiting = "freeze_waiting"  # 轮候: our freeze waits behind another authority's
    freeze_failed = "freeze_failed"  # a control failed: wrong or stale record, or hard to freeze
    rework = "rework"  # an officer redoes failed controls and re-queries
    freeze_renewed = "freeze_renewed"  # renewed before expiry (expires_days: the new expiry)
    freeze_lapsed = "freeze_lapsed"  # expired without renewal: the hold is lost
    deduct = "deduct"  # money taken from an asset into the court's account
    sale = "sale"  # a sold asset's proceeds reach the court's account
    sale_failed = "sale_failed"  # no buyer in any auction round nor the fixed-price sale
    voluntary = "voluntary"  # the debtor pays (the rest, or part) under credit punishment
    disbursed = "disbursed"  # money paid out to the creditor
    unfreeze = "unfreeze"  # holds released when the case closes
    closed = "closed"  # the case is closed (outcome in the case record)


class Event(NamedTuple):
    """One row of the event log."""

    replication: int
    time_days: float
    case_id: int
    region: str
    event: EventKind
    asset_type: str = ""
    channel: str = ""
    amount_yuan: float | None = None
    agency: str = ""
    asset_id: int | None = None  # the asset's number within its case
    expires_days: float | None = None  # freeze rows: when the freeze expires
    debtor_id: int | None = None  # the same debtor across a case and its restored matters
    ordered_days: float | None = None  # online control rows: when the court sent the order


class CaseRow(NamedTuple):
    """One row per matter, as it stood at the end (``outcome`` ``open`` if not closed)."""

    replication: int
    case_id: int
    region: str
    court: str
    matter: str  # new, restored or objection
    debtor_id: int
    filed_days: float
    officer_start_days: float
    closed_days: float
    outcome: str
    claim_yuan: float
    recovered_yuan: float
    last_disbursed_days: float
    assets: int
    assets_found: int
    queries: int
    reworks: int


EVENT_COLUMNS: tuple[str, ...] = Event._fields
CASE_COLUMNS: tuple[str, ...] = CaseRow._fields
OUTCOMES = ("fully_performed", "partly_performed", "terminated_for_now", "objection")
MONEY_KINDS = (EventKind.deduct, EventKind.sale, EventKind.voluntary)


@mypyc_attr(allow_interpreted_subclasses=True)  # the observer and the event log extend it
class EventSink(WorkLog):
    """Everything the model says as it runs; each call is one thing that happened. Here
    each does nothing: a sink overrides what it listens to.

    A compiled class, not a protocol, so that the compiled model calls a sink's methods
    directly, through the class's table, not by name with their arguments parsed (about
    ten calls a matter). An officer's stint (``officer_worked``) is told through its base,
    :class:`sim.model.officers.WorkLog`, which is what a court holds.

    ``detailed`` asks the model for what only a log needs (every request's answer; a
    closing case's assets, for its row, and the holds it releases: :mod:`sim.model.closing`)."""

    detailed: ClassVar[bool] = False

    def filed(self, case: Case) -> None:
        """A matter was filed at ``case.filed`` (its kind is ``case.matter``)."""

    def officer_started(self, case: Case, start: float) -> None:
        """An officer started on the matter at ``start``."""

    def queried(self, case: Case, result: QueryResult) -> None:
        """Requests went out together and were answered (``result``)."""

    def controlled(self, case: Case, holds: list[Hold], failures: list[Failure]) -> None:
        """Controls against found assets: those that held and those that failed."""

    def reworked(self, case: Case, at: float) -> None:
        """An officer redid failed controls at ``at``; a fresh query follows."""

    def paid(
        self, case: Case, hold: Hold | None, at: float, paid_at: float, yuan: float, kind: EventKind
    ) -> None:
        """Money came in at ``at`` (``kind``: deduct, sale or voluntary; ``hold`` None for a
        voluntary payment) and reaches the creditor at ``paid_at``."""

    def sale_failed(self, case: Case, hold: Hold, at: float) -> None:
        """No buyer for a held asset by ``at``."""

    def renewal(self, case: Case, hold: Hold, at: float, ok: bool) -> None:
        """A freeze renewed at ``at`` (``hold.expires`` is the new expiry), or lapsed then."""

    def unfrozen(self, case: Case, hold: Hold, at: float) -> None:
        """A hold still in force was released as the case closed."""

    def closed(self, case: Case) -> None:
        """The matter closed at ``case.closed`` with ``case.outcome``."""

    def pushed(self, at: float, pushes: int, leads: int, restored: int) -> None:
        """终本 pool re-queries at ``at``: debtors checked, leads found, cases restored."""

    def backlog(self, at: float, open_cases: int, pool: int) -> None:
        """A sample of open cases and of the 终本 pool's size."""
