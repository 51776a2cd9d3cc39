"""The audit log: every control and every refused authorisation, hash-chained.

Each entry holds the time (UTC), the court (or ``-`` when no valid token was shown), the
action, the target and the outcome, and the SHA-256 of those fields together with the
previous entry's hash; the first entry chains to 64 zeros. Changing, removing or reordering
an entry breaks every hash after it, which :func:`verify` finds.

Appending reads and updates the chain's head row under a lock (``FOR UPDATE``; SQLite's
write transactions are already serial), in the same transaction as the control it records,
so the log holds exactly the controls that happened, in the order they committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import Connection, select

from load.api.db import audit, audit_head
from load.api.sql import Stmt, Tx, tx_of

GENESIS_HASH = "0" * 64


def entry_hash(
    prev_hash: str, seq: int, at_utc: str, court: str, action: str, target: str, outcome: str
) -> str:
    fields = [seq, at_utc, court, action, target, outcome, prev_hash]
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_HEAD = Stmt("SELECT seq, hash FROM audit_head WHERE id = 1", lock="FOR UPDATE")
_APPEND = Stmt(
    "INSERT INTO audit (seq, at_utc, court, action, target, outcome, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_MOVE_HEAD = Stmt("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")


def append(conn: Connection | Tx, court: str, action: str, target: str, outcome: str) -> int:
    """Add one entry (inside the caller's write transaction); return its sequence number."""
    tx = tx_of(conn)
    head_seq, prev = tx.one(_HEAD)
    seq = head_seq + 1
    at = utc_now()
    target = target[:255]
    digest = entry_hash(prev, seq, at, court, action, target, outcome)
    tx.run(_APPEND, (seq, at, court, action, target, outcome, prev, digest))
    tx.run(_MOVE_HEAD, (seq, digest))
    return int(seq)


def verify(conn: Connection) -> dict[str, object]:
    """Recompute the chain: ``{"ok", "entries", "first_bad"}`` (first_bad: a seq or None)."""
    prev = GENESIS_HASH
    count = 0
    first_bad: int | None = None
    rows = conn.execution_options(yield_per=2000).execute(select(audit).order_by(audit.c.seq))
    try:
        for row in rows:
            count += 1
            expected = entry_hash(
                prev, row.seq, row.at_utc, row.court, row.action, row.target, row.outcome
            )
            if row.seq != count or row.prev_hash != prev or row.hash != expected:
                first_bad = row.seq
                break
            prev = row.hash
    finally:
        rows.close()  # a server-side cursor on PostgreSQL: close it even after a break
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    if first_bad is None and (head.seq != count or head.hash != prev):
        first_bad = count + 1  # entries missing at the end
    return {"ok": first_bad is None, "entries": count, "first_bad": first_bad}
