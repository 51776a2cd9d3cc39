"""Flat records: one row per case and one per event, with the same columns everywhere.

The model appends plain tuples (cheap); writing and analysis happen after the run. When
records are not kept, :class:`EventLog` drops rows as they come and only the streaming
statistics in :mod:`sim.results.statistics` remain, so memory does not grow with simulated time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

EVENT_COLUMNS = (
    "replication",
    "time_days",
    "case_id",
    "region",
    "event",
    "asset_type",
    "channel",
    "amount_yuan",
    "agency",
    "asset_id",  # the asset's number within its case
    "expires_days",  # freeze rows: when the freeze expires
    "debtor_id",  # the same debtor across a case and its restored matters
)

EVENTS = (
    "filed",  # a new case is filed in a court
    "restored",  # 恢复执行: a 终本 case restored as a new matter
    "objection",  # 执行异议: an objection, a matter of its own
    "officer_start",  # an officer starts on the case
    "query_sent",  # one request to one agency over one channel
    "query_answered",  # its answer reaches the court (one row per request)
    "freeze",  # a control took hold of an asset (expires_days: until when)
    "freeze_waiting",  # 轮候: our freeze waits behind another authority's
    "freeze_failed",  # a control failed: wrong or stale record, or hard to freeze
    "rework",  # an officer redoes failed controls and re-queries
    "freeze_renewed",  # renewed before expiry (expires_days: the new expiry)
    "freeze_lapsed",  # expired without renewal: the hold is lost
    "deduct",  # money taken from an asset into the court's account
    "sale",  # a sold asset's proceeds reach the court's account
    "sale_failed",  # no buyer in any auction round nor the fixed-price sale
    "voluntary",  # the debtor pays the rest under credit punishment
    "disbursed",  # money paid out to the creditor
    "unfreeze",  # holds released when the case closes
    "closed",  # the case is closed (outcome in the case record)
)

CASE_COLUMNS = (
    "replication",
    "case_id",
    "region",
    "court",
    "matter",
    "debtor_id",
    "filed_days",
    "officer_start_days",
    "closed_days",
    "outcome",
    "claim_yuan",
    "recovered_yuan",
    "last_disbursed_days",
    "assets",
    "assets_found",
    "queries",
    "reworks",
)

OUTCOMES = ("fully_performed", "partly_performed", "terminated_for_now", "objection")


class EventLog:
    """Event rows of one replication, or none when not kept."""

    __slots__ = ("keep", "replication", "rows")

    def __init__(self, replication: int, keep: bool) -> None:
        self.replication = replication
        self.keep = keep
        self.rows: list[tuple] = []

    def add(
        self,
        time_days: float,
        case_id: int,
        region: str,
        event: str,
        asset_type: str = "",
        channel: str = "",
        amount_yuan: float | None = None,
        agency: str = "",
        asset_id: int | None = None,
        expires_days: float | None = None,
        debtor_id: int | None = None,
    ) -> None:
        if self.keep:
            self.rows.append(
                (
                    self.replication,
                    time_days,
                    case_id,
                    region,
                    event,
                    asset_type,
                    channel,
                    amount_yuan,
                    agency,
                    asset_id,
                    expires_days,
                    debtor_id,
                )
            )

    def sorted_rows(self) -> list[tuple]:
        """Rows in time order (the model may log a stage's outcome when it is decided)."""
        return sorted(self.rows, key=lambda r: (r[1], r[2]))


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN: not reached
            return ""
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def write_csv(
    path: Path, columns: Iterable[str], rows: Iterable[tuple], header: bool = True
) -> int:
    """Write generic rows to ``path`` (floats to 6 decimals); returns the number written."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if header:
            writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt(v) for v in row])
            n += 1
    return n


def write_events(path: Path, rows: Iterable[tuple], header: bool = True) -> int:
    """Write event rows fast: time to 1e-5 day (under a second), money to the fen."""
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        if header:
            fh.write(",".join(EVENT_COLUMNS) + "\n")
        write = fh.write
        for rep, t, case, region, event, asset, channel, amount, agency, aid, exp, debtor in rows:
            money = "" if amount is None else f"{amount:.2f}"
            aid = "" if aid is None else aid
            exp = "" if exp is None else f"{exp:.5f}"
            debtor = "" if debtor is None else debtor
            write(
                f"{rep},{t:.5f},{case},{region},{event},{asset},{channel},{money},{agency},"
                f"{aid},{exp},{debtor}\n"
            )
            n += 1
    return n
