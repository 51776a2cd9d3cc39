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

from sqlalchemy import Connection, bindparam, insert, select, update

from load.api.db import audit, audit_head

GENESIS_HASH = "0" * 64


def entry_hash(
    prev_hash: str, seq: int, at_utc: str, court: str, action: str, target: str, outcome: str
) -> str:
    fields = [seq, at_utc, court, action, target, outcome, prev_hash]
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
_APPEND = insert(audit)
_MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def append(conn: Connection, court: str, action: str, target: str, outcome: str) -> int:
    """Add one entry (inside the caller's write transaction); return its sequence number."""
    head = conn.execute(_HEAD).one()
    seq = head.seq + 1
    at = utc_now()
    target = target[:255]
    digest = entry_hash(head.hash, seq, at, court, action, target, outcome)
    entry = {
        "seq": seq,
        "at_utc": at,
        "court": court,
        "action": action,
        "target": target,
        "outcome": outcome,
        "prev_hash": head.hash,
        "hash": digest,
    }
    conn.execute(_APPEND, entry)
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": digest})
    return seq


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
