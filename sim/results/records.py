"""The event and case records as CSV files: ``events.csv`` and ``cases.csv``.

The rows are the model's typed records (:class:`~sim.model.events.Event`,
:class:`~sim.model.events.CaseRow`); their field names are the columns, in order. Writing
happens after the run (per replication, as parts joined under one header); reading gives
one dict per row with each column typed as its record field says.
"""

from __future__ import annotations

import csv
import math
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from sim.model.events import CASE_COLUMNS, EVENT_COLUMNS, CaseRow, Event

EVENTS_CSV = "events.csv"
CASES_CSV = "cases.csv"


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN: not reached
            return ""
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def write_cases(path: Path, rows: Iterable[CaseRow], header: bool = True) -> int:
    """Write case rows to ``path`` (floats to 6 decimals); returns the number written."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if header:
            writer.writerow(CASE_COLUMNS)
        for row in rows:
            writer.writerow([_fmt(v) for v in row])
            n += 1
    return n


def write_events(path: Path, rows: Iterable[Event], header: bool = True) -> int:
    """Write event rows fast: time to 1e-5 day (under a second), money to the fen."""
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        if header:
            fh.write(",".join(EVENT_COLUMNS) + "\n")
        write = fh.write
        # unpacked in the order of Event's fields, which is the order of the columns
        for row in rows:
            rep, t, case, region, event, asset, channel, amount, agency, aid, exp, debtor, order = row
            money = "" if amount is None else f"{amount:.2f}"
            number = "" if aid is None else aid
            expires = "" if exp is None else f"{exp:.5f}"
            who = "" if debtor is None else debtor
            ordered = "" if order is None else f"{order:.5f}"
            write(
                f"{rep},{t:.5f},{case},{region},{event},{asset},{channel},{money},{agency},"
                f"{number},{expires},{who},{ordered}\n"
            )
            n += 1
    return n


# ---------------------------------------------------------------- reading


def _column_types(record: type[NamedTuple]) -> dict[str, type]:
    """Each field's Python type (``int``, ``float`` or ``str``), from the record's hints."""
    out: dict[str, type] = {}
    for name, hint in typing.get_type_hints(record).items():
        kinds = [k for k in typing.get_args(hint) or (hint,) if k is not type(None)]
        kind = kinds[0]
        out[name] = str if issubclass(kind, str) else kind
    return out


_TYPES = {EVENTS_CSV: _column_types(Event), CASES_CSV: _column_types(CaseRow)}


def _typed(row: dict[str, str], types: dict[str, type]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        kind = types.get(k, float)
        if kind is str:
            out[k] = v
        elif v == "":
            out[k] = None if kind is int else math.nan
        else:
            out[k] = kind(v)
    return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    """``events.csv`` or ``cases.csv`` as one dict per row, columns typed as their record
    says (text as str, counts and ids as int or None, the rest as float or NaN)."""
    types = _TYPES.get(path.name, _TYPES[EVENTS_CSV] | _TYPES[CASES_CSV])
    with path.open(encoding="utf-8") as fh:
        return [_typed(row, types) for row in csv.DictReader(fh)]

