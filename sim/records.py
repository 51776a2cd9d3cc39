"""Flat records: one row per case and one per event, with the same columns everywhere.

The model appends plain tuples (cheap); writing and analysis happen after the run. When
records are not kept, :class:`EventLog` drops rows as they come and only the streaming
statistics in :mod:`sim.stats` remain, so memory does not grow with simulated time.
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
)

EVENTS = (
    "filed",  # a case is filed in a court
    "officer_start",  # an officer starts on the case
    "query_sent",  # one request to one agency over one channel
    "query_answered",  # its answer reaches the court (one row per request)
    "freeze",  # a control took hold of an asset
    "freeze_failed",  # a control failed: the record was wrong or stale
    "rework",  # an officer redoes failed controls and re-queries
    "deduct",  # money taken from an asset into the court's account
    "sale",  # a sold asset's proceeds reach the court's account
    "disbursed",  # money paid out to the creditor
    "closed",  # the case is closed (outcome in the case record)
)

CASE_COLUMNS = (
    "replication",
    "case_id",
    "region",
    "court",
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

OUTCOMES = ("fully_performed", "partly_performed", "terminated_for_now")  # 终本 is the last


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
        for rep, t, case, region, event, asset, channel, amount, agency in rows:
            money = "" if amount is None else f"{amount:.2f}"
            write(f"{rep},{t:.5f},{case},{region},{event},{asset},{channel},{money},{agency}\n")
            n += 1
    return n
