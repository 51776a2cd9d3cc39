"""The audit log: every control, every system event that moved money, and refused requests
(counted), in HMAC-keyed chains.

An entry holds the time (UTC and simulated), the court (``-`` when no valid token was
shown), the action, the target, the outcome, the money moved and its two accounts, and a
count (refused requests are counted together: :mod:`load.api.denials`). Its ``mac`` is an
HMAC-SHA256, under a server secret kept outside the database (:mod:`load.api.state`), of
those fields and the previous entry's ``mac``. Someone who can write every table but does
not hold the key cannot write a ``mac`` that verifies, so editing an entry, or rewriting it
and re-hashing the rest, is caught; deleting entries at the end is caught against a
checkpoint of the heads kept outside the database (:mod:`load.api.checkpoint`).

There are :data:`SHARDS` chains. A transaction collects its entries in a :class:`Batch` and
appends them, last, to one chain: its process's own chain, or, when another transaction
holds that one's head row, the next one nobody holds (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's write transactions are serial already). The head row stays locked
until commit, so a chain holds its entries in commit order; and no control waits for
another's chain unless more transactions append at once than there are chains. A signed
checkpoint of every chain's head, kept outside the database, seals them together
(:mod:`load.api.checkpoint`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from load.api.schema import audit, audit_heads
from load.api.sql import Stmt, Tx, tx_of

SHARDS = 64
GENESIS_MAC = "0" * 64
MAX_LISTED = 20  # problems listed in a verification (the count is always complete)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def home_chain() -> int:
    """The chain this process appends to first (its process id's)."""
    return zlib.crc32(str(os.getpid()).encode()) % SHARDS


class Entry(NamedTuple):
    """One audit entry, before it is chained (its chain is chosen when it is written)."""

    sim_time: float
    court: str
    action: str
    target: str
    outcome: str
    amount_fen: int | None = None
    debit_account: str | None = None
    credit_account: str | None = None
    times: int = 1  # the column "count": refused requests counted together
    shard: int = -1  # the chain, once written


_PAYLOAD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def mac_of(key: bytes, prev_mac: str, seq: int, at_utc: str, e: Entry) -> str:
    """HMAC-SHA256 under ``key`` of the entry's fields and the previous MAC, as the compact
    JSON array ``[shard, seq, at_utc, sim_time, court, action, target, outcome, amount_fen,
    debit_account, credit_account, count, prev_mac]`` (UTF-8): an auditor can recompute it
    in any language."""
    fields = [
        e.shard, seq, at_utc, e.sim_time, e.court, e.action, e.target, e.outcome,
        e.amount_fen, e.debit_account, e.credit_account, e.times, prev_mac,
    ]  # fmt: skip
    return hmac.digest(key, _PAYLOAD(fields).encode(), "sha256").hex()


# the first chain from a starting point whose head no other transaction holds (then from 0)
_FREE_HEAD = Stmt(
    "SELECT shard, seq, mac FROM audit_heads WHERE shard >= ? ORDER BY shard LIMIT 1",
    lock="FOR UPDATE SKIP LOCKED",
)
_HEAD = Stmt("SELECT shard, seq, mac FROM audit_heads WHERE shard = ?", lock="FOR UPDATE")
_APPEND = Stmt(
    """INSERT INTO audit (shard, seq, at_utc, sim_time, court, action, target, outcome,
                          amount_fen, debit_account, credit_account, count, prev_mac, mac)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
)
_MOVE_HEAD = Stmt("UPDATE audit_heads SET seq = ?, mac = ? WHERE shard = ?")


@dataclass
class Batch:
    """The audit entries of one transaction, appended together at its end."""

    entries: list[Entry] = field(default_factory=list)
    at_utc: str | None = None  # when they happened (default: when they are written)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)

    def write(self, conn: Connection | Tx, key: bytes) -> None:
        """Append every entry to one chain (inside the caller's write transaction)."""
        if not self.entries:
            return
        tx = tx_of(conn)
        start = home_chain()
        head = tx.one(_FREE_HEAD, (start,)) or tx.one(_FREE_HEAD, (0,))
        if head is None:  # every chain is being appended to: wait for this one
            head = tx.one(_HEAD, (start,))
        shard, seq, prev = head
        at = self.at_utc or utc_now()
        for e in self.entries:
            seq += 1
            e = _fit(e)._replace(shard=shard)
            mac = mac_of(key, prev, seq, at, e)
            row = (
                shard, seq, at, e.sim_time, e.court, e.action, e.target, e.outcome,
                e.amount_fen, e.debit_account, e.credit_account, e.times, prev, mac,
            )  # fmt: skip
            tx.run(_APPEND, row)
            prev = mac
        tx.run(_MOVE_HEAD, (seq, prev, shard))
        self.entries = []


def _fit(e: Entry) -> Entry:
    if len(e.target) <= 255 and len(e.action) <= 64 and len(e.outcome) <= 64:
        return e
    return e._replace(action=e.action[:64], target=e.target[:255], outcome=e.outcome[:64])


def initial_heads() -> list[dict[str, Any]]:
    return [{"shard": s, "seq": 0, "mac": GENESIS_MAC} for s in range(SHARDS)]


def heads(conn: Connection) -> dict[int, tuple[int, str]]:
    """Every chain's head: shard -> (seq, mac)."""
    rows = conn.execute(select(audit_heads.c.shard, audit_heads.c.seq, audit_heads.c.mac))
    return {int(r.shard): (int(r.seq), str(r.mac)) for r in rows}


@dataclass
class Verification:
    entries: int = 0
    refused: int = 0  # refused requests the entries count
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    first_bad: str | None = None
    chained: dict[int, list[str]] = field(default_factory=dict)  # shard -> macs by seq

    def problem(self, where: str | None, text: str, first: bool = False) -> None:
        self.problem_count += 1
        if first:
            self.problems.insert(0, text)
            del self.problems[MAX_LISTED:]
        elif len(self.problems) < MAX_LISTED:
            self.problems.append(text)
        if self.first_bad is None and where is not None:
            self.first_bad = where


def _rows(conn: Connection) -> Iterator[Any]:
    rows = conn.execution_options(yield_per=2000).execute(select(audit).order_by(audit.c.entry_id))
    try:
        yield from rows
    finally:
        rows.close()  # a server-side cursor on PostgreSQL: close it even after a break


def verify_chains(conn: Connection, key: bytes) -> Verification:
    """Recompute every chain with ``key``: each entry's number, link and MAC, and each
    chain's head row. Records the MACs by position for the checkpoint to be held against."""
    v = Verification()
    broken: set[int] = set()
    last: dict[int, str] = {}  # each chain's MAC so far (the entries come in the order appended)
    for row in _rows(conn):
        v.entries += 1
        if row.outcome.startswith("denied:"):
            v.refused += row.count
        shard = row.shard
        if shard in broken:
            continue
        macs = v.chained.setdefault(shard, [])
        expected_seq = len(macs) + 1
        prev = last.get(shard, GENESIS_MAC)
        e = Entry(
            row.sim_time, row.court, row.action, row.target, row.outcome,
            row.amount_fen, row.debit_account, row.credit_account, row.count, row.shard,
        )  # fmt: skip
        where = f"{shard}:{row.seq}"
        if row.seq != expected_seq:
            v.problem(where, f"chain {shard}: entry {row.seq} where {expected_seq} belongs")
            broken.add(shard)
        elif row.prev_mac != prev:
            v.problem(where, f"chain {shard}: entry {row.seq} does not follow entry {row.seq - 1}")
            broken.add(shard)
        elif not hmac.compare_digest(
            str(row.mac).encode(), mac_of(key, prev, row.seq, row.at_utc, e).encode()
        ):
            v.problem(where, f"chain {shard}: entry {row.seq} was altered (its MAC is wrong)")
            broken.add(shard)
        else:
            last[shard] = row.mac
            macs.append(row.mac)
    for shard, (seq, mac) in sorted(heads(conn).items()):
        if shard in broken:
            continue
        macs = v.chained.get(shard, [])
        end = macs[-1] if macs else GENESIS_MAC
        if seq != len(macs) or mac != end:
            v.problem(
                f"{shard}:{len(macs) + 1}",
                f"chain {shard}: its head says entry {seq}, the chain ends at {len(macs)}",
            )
    return v
