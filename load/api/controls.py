"""Controls: freeze, renew, unfreeze, deduct under an Idempotency-Key, and their statuses.

:func:`submit` runs in one write transaction: it takes the locks that keep two controls on
the same asset, the same case or under the same key apart (an advisory lock on the key and
``FOR UPDATE`` of the case and asset rows on PostgreSQL; SQLite's write transactions are
serial), brings the asset up to the clock (:func:`load.api.events.settle`), decides
(:func:`load.api.rules.decide`, reads only), records and carries out the decision
(:func:`load.api.effects.record`), stores the reply under its key and appends the audit
entries last. The same key and body give the stored reply again, byte for byte (a retry of
a control whose fate is ``unknown`` asks the agency again, and never acts twice); the same
key with another body is refused (422) and changes nothing.

A control's status, as ``GET /v1/controls/{id}`` and a case's view show it:
``accepted`` (the agency has not picked it up), ``processing``, then ``done``, ``failed``
(with the agency's reason) or ``refused`` (by the rules, at once), and ``unknown`` while the
API waits past its deadline for an answer that is late or lost (fault mode). ``unknown`` is
never ``failed``: the agency may well have acted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from load.api.audit import Batch, utc_now
from load.api.casework import CASE_COLUMNS, case_of
from load.api.effects import record
from load.api.errors import ApiError, not_found
from load.api.events import entry, settle, target
from load.api.rules import ControlRequest, Decision, decide
from load.api.schema import OPEN_CONTROL
from load.api.sql import Stmt, Tx
from load.api.statuses import control_state, control_status
from load.api.world import Court, World

__all__ = ["ControlRequest", "Decision", "decide", "prepare", "submit", "view"]

# The case's row and the asset's row are locked (on PostgreSQL) by the statement that reads
# them and the debtor's region: the asset's for its cap and hold, the case's for its claim,
# so that two controls on two assets of one case cannot both take the last of the claim.
_ASSET = "asset_id, debtor_id, asset_type, agency, cap_year, cap_used_fen, region"
_LOCK_CASE_ASSET = Stmt(
    """SELECT c.case_id, c.court_id, c.debtor_id, c.claim_fen, c.created_utc,
              a.asset_id, a.debtor_id, a.asset_type, a.agency, a.cap_year, a.cap_used_fen,
              d.region
       FROM cases c JOIN assets a ON a.asset_id = ? JOIN debtors d ON d.debtor_id = a.debtor_id
       WHERE c.case_id = ? AND c.court_id = ?""",
    lock="FOR UPDATE OF c, a",
)
_CASE_ROW = Stmt("SELECT 1", CASE_COLUMNS).row
_ASSET_ROW = Stmt("SELECT 1", _ASSET).row
_KEY_LOCK = Stmt("SELECT pg_advisory_xact_lock(?)")
_STORED = Stmt(
    "SELECT request_sha256, status_code, body, control_id FROM idempotency"
    " WHERE court_id = ? AND key = ?",
    "request_sha256, status_code, body, control_id",
)
_STORE = Stmt(
    "INSERT INTO idempotency (court_id, key, request_sha256, status_code, body, control_id)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_LOCK_ASSET = Stmt("SELECT asset_id FROM assets WHERE asset_id = ?", lock="FOR UPDATE")
CONTROL_COLUMNS = (
    "control_id, case_id, asset_id, action, amount_fen, outcome, status, freeze_id, sim_time,"
    " pickup_sim, act_sim, reply_sim, deadline_sim, inquired_sim, fate"
)
_CONTROL = Stmt(
    f"""SELECT {", ".join("k." + c.strip() for c in CONTROL_COLUMNS.split(","))}
        FROM controls k JOIN cases c ON c.case_id = k.case_id
        WHERE k.control_id = ? AND c.court_id = ?""",
    CONTROL_COLUMNS,
)
_DUE = Stmt(
    f"""SELECT 1 FROM controls WHERE asset_id = ? AND {OPEN_CONTROL}
       AND ((NOT acted AND act_sim <= ?) OR (NOT duplicate_seen AND duplicate_sim <= ?))
       UNION ALL SELECT 1 FROM freezes WHERE asset_id = ?
       AND ((status = 'active' AND expires_sim <= ?)
            OR (status = 'waiting' AND external_release_sim <= ?))"""
)
_FREEZE_NOW = Stmt(
    """SELECT f.status, f.expires_sim, h.balance_fen FROM freezes f
       JOIN accounts h ON h.account_id = 'frozen:' || f.freeze_id WHERE f.freeze_id = ?""",
    "status, expires_sim, held_fen",
)
_INQUIRED = Stmt("UPDATE controls SET inquired_sim = ? WHERE control_id = ?")


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def lock_case_asset(tx: Tx, court: Court, case_id: int, asset_id: str) -> tuple[Any, Any]:
    """The court's case and the asset (with its debtor's region), both locked until the
    transaction ends; 404 for a case not the court's or an asset not its debtor's."""
    row = tx.one(_LOCK_CASE_ASSET, (asset_id, case_id, court.court_id))
    if row is None:
        case_of(tx, court, case_id)  # 404 for the case if it is the case that is missing
        raise not_found("asset", asset_id)
    case, asset = _CASE_ROW._make(row[:5]), _ASSET_ROW._make(row[5:])
    if asset.debtor_id != case.debtor_id:
        raise not_found("asset", asset_id)
    return case, asset


def key_lock_id(court_id: str, key: str) -> int:
    """A signed 64-bit number naming (court, idempotency key), for an advisory lock."""
    digest = hashlib.sha256(f"{court_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def prepare(
    tx: Tx, world: World, court: Court, req: ControlRequest, batch: Batch
) -> tuple[Any, Any, float]:
    """The court's case and its debtor's asset (locked), the asset brought up to the clock."""
    case, asset = lock_case_asset(tx, court, req.case_id, req.asset_id)
    now = world.clock.now()
    settle(tx, world, req.asset_id, now, batch)
    return case, asset, now


def submit(
    tx: Tx, world: World, court: Court, key: str, req: ControlRequest
) -> tuple[int, str, str | None]:
    """One control under an idempotency key, in the caller's write transaction: the reply's
    status, its JSON body and the outcome for the metrics (None for a replay)."""
    digest = req.sha256()
    if tx.pg:
        tx.run(_KEY_LOCK, (key_lock_id(court.court_id, key),))
    stored = tx.one(_STORED, (court.court_id, key))
    batch = Batch(at_utc=utc_now())
    if stored is not None:
        if stored.request_sha256 != digest:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different body",
            )
        if stored.control_id is not None and world.timed_controls:
            _ask_again(tx, world, court, stored.control_id, batch)
            batch.write(tx, world.audit_key)
        return stored.status_code, stored.body, None
    case, asset, now = prepare(tx, world, court, req, batch)
    decision = decide(tx, world, court, case, asset, req, now)
    status, body = record(tx, world, court, req, decision, asset, batch)
    text = _ENCODE(body)
    tx.run(_STORE, (court.court_id, key, digest, status, text, body["control_id"]))
    batch.write(tx, world.audit_key)
    return status, text, decision.outcome if status != 202 else "accepted"


def _ask_again(tx: Tx, world: World, court: Court, control_id: int, batch: Batch) -> None:
    """A retry of a control the API has no answer for: it asks the agency again, and learns
    the fate once the agency has acted (the control still acts once)."""
    c = tx.one(_CONTROL, (control_id, court.court_id))
    now = world.clock.now()
    if c is None or c.pickup_sim is None or control_status(c, now) != "unknown":
        return
    tx.run(_INQUIRED, (max(now, c.act_sim), control_id))
    where = f"{target(c.case_id, c.asset_id)}/control:{control_id}"
    batch.add(entry(c.case_id, court.court_id, now, "agency.inquiry", where, "asked_again"))


def due(tx: Tx, asset_id: str, now: float) -> bool:
    """Whether anything is due on the asset (a cheap read before a write)."""
    return tx.one(_DUE, (asset_id, now, now, asset_id, now, now)) is not None


def view(tx: Tx, world: World, court: Court, control_id: int, now: float) -> dict[str, Any]:
    """``GET /v1/controls/{id}`` at ``now`` (after the asset was brought up to ``now``)."""
    c = tx.one(_CONTROL, (control_id, court.court_id))
    if c is None:
        raise not_found("control", control_id)
    out: dict[str, Any] = {
        "control_id": c.control_id,
        "case_id": c.case_id,
        "asset_id": c.asset_id,
        "action": c.action,
        **control_state(c, now),
        "freeze_id": c.freeze_id,
        "held_fen": None,
        "expires_at": None,
        "sim_time": world.clock.iso(c.sim_time),
    }
    if c.freeze_id is not None:
        f = tx.one(_FREEZE_NOW, (c.freeze_id,))
        out["held_fen"] = int(f.held_fen)
        if f.status == "active" and f.expires_sim is not None:
            out["expires_at"] = world.clock.iso(f.expires_sim)
    return out


def asset_of(tx: Tx, court: Court, control_id: int) -> str | None:
    c = tx.one(_CONTROL, (control_id, court.court_id))
    return None if c is None else str(c.asset_id)


def bring_up_to_date(tx: Tx, world: World, asset_id: str, now: float) -> None:
    """Settle the asset's events due by ``now`` in a write transaction (locks the asset
    first)."""
    batch = Batch()
    tx.run(_LOCK_ASSET, (asset_id,))
    settle(tx, world, asset_id, now, batch)
    batch.write(tx, world.audit_key)
