"""Controls: freeze, renew, unfreeze, deduct, decided and applied inside one write transaction.

:func:`submit` takes the locks that keep two controls on the same asset or under the same
idempotency key apart (:mod:`load.api.db`), then decides (:func:`decide`, reads only) and
applies (:func:`apply`, writes only, money through :func:`load.api.ledger.move`). The two
halves are separate functions so that a test can build the naive check-then-write variant
from them (decide in one transaction, apply in the next) and watch it break the cap.

The rules, in the order they are checked (each refusal a 409 ``code``):

- freeze: ``already_frozen``; the record relied on (one over a channel that can act online
  first, then the region's preferred channel, then the newest) ``offline_required`` if its
  channel cannot freeze online, ``stale_record`` if it was wrong; ``exceeds_claim`` beyond
  the claim outstanding; ``insufficient_balance`` beyond the asset's free balance.
- renew, unfreeze, deduct: ``freeze_expired`` if the case's freeze lapsed unrenewed,
  ``not_frozen`` if it has none; ``offline_required`` if the freeze's channel cannot act
  online; for a deduction also ``sale_required`` (real estate, vehicles),
  ``insufficient_balance`` (beyond the hold), ``exceeds_claim``, ``cap_exceeded`` (the
  provident-fund cap of the asset's region in the calendar year of the simulated clock).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from load.api import audit
from load.api.casework import CASE_COLUMNS, case_of
from load.api.errors import REFUSALS, ApiError, not_found
from load.api.ledger import (
    balance,
    court_account,
    debtor_account,
    frozen_account,
    move,
    open_account,
)
from load.api.sql import Stmt, Tx, tx_of
from load.api.world import Court, World
from sim.scenario.schema import SOLD_ASSETS, AssetType


@dataclass(frozen=True, slots=True)
class ControlRequest:
    case_id: int
    asset_id: str
    action: str  # freeze | renew | unfreeze | deduct
    amount_fen: int | None = None

    def sha256(self) -> str:
        fields = [self.case_id, self.asset_id, self.action, self.amount_fen]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


@dataclass(slots=True)
class Decision:
    """What a control will do, decided from what the transaction read."""

    now: float
    outcome: str  # frozen | renewed | unfrozen | deducted, or a refusal code
    detail: str = ""
    amount_fen: int | None = None
    finding: Any | None = None  # the record a freeze relies on
    freeze: Any | None = None  # the freeze acted on
    expires: float | None = None  # the freeze's expiry after this control
    held_fen: int = 0  # the freeze's hold before this control
    recovered_fen: int = 0  # the case's recovered money before this control
    cap_year: int | None = None
    cap_used_fen: int | None = None  # after this deduction

    @property
    def refused(self) -> bool:
        return self.outcome in REFUSALS


# The hot statements, on the DBAPI cursor (load.api.sql). The case's row and the asset's
# row are locked (on PostgreSQL) by the statement that reads them and the debtor's region:
# the asset's for its cap and hold, the case's for its claim, so that two controls on two
# assets of one case cannot both take the last of the claim.
_ASSET = "asset_id, debtor_id, asset_type, cap_year, cap_used_fen, region"
_LOCK_CASE_ASSET = Stmt(
    """SELECT c.case_id, c.court_id, c.debtor_id, c.claim_fen, c.created_utc,
              a.asset_id, a.debtor_id, a.asset_type, a.cap_year, a.cap_used_fen, d.region
       FROM cases c JOIN assets a ON a.asset_id = ? JOIN debtors d ON d.debtor_id = a.debtor_id
       WHERE c.case_id = ? AND c.court_id = ?""",
    lock="FOR UPDATE OF c, a",
)
_CASE_ROW = Stmt("SELECT 1", CASE_COLUMNS).row
_ASSET_ROW = Stmt("SELECT 1", _ASSET).row
_EXPIRED = Stmt(
    "SELECT freeze_id, expires_sim FROM freezes"
    " WHERE asset_id = ? AND status = 'active' AND expires_sim <= ?",
    "freeze_id, expires_sim",
)
_END_FREEZE = Stmt("UPDATE freezes SET status = ?, ended_sim = ? WHERE freeze_id = ?")
_RENEW = Stmt("UPDATE freezes SET expires_sim = ? WHERE freeze_id = ?")
# the records the case has of the asset so far, each with the case's recovered money
_VISIBLE = Stmt(
    """SELECT query_id, channel, answer_at_sim, wrong, online_freeze, online_deduct,
              (SELECT balance_fen FROM accounts WHERE account_id = ?)
       FROM findings WHERE case_id = ? AND asset_id = ? AND answer_at_sim <= ?""",
    "query_id, channel, answer_at_sim, wrong, online_freeze, online_deduct, recovered_fen",
)
# the case's freezes of the asset, newest first, each with its hold
_OWN_FREEZES = Stmt(
    """SELECT f.freeze_id, f.channel, f.online_freeze, f.online_deduct, f.expires_sim, f.status,
              h.balance_fen
       FROM freezes f JOIN accounts h ON h.account_id = 'frozen:' || f.freeze_id
       WHERE f.case_id = ? AND f.asset_id = ? ORDER BY f.freeze_id DESC""",
    "freeze_id, channel, online_freeze, online_deduct, expires_sim, status, held_fen",
)
_NEW_FREEZE = Stmt(
    """INSERT INTO freezes (case_id, asset_id, channel, online_freeze, online_deduct, amount_fen,
                            frozen_sim, expires_sim, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active') RETURNING freeze_id"""
)
_NEW_CONTROL = Stmt(
    """INSERT INTO controls (case_id, asset_id, action, amount_fen, outcome, freeze_id,
                             freeze_expires_sim, sim_time, cap_year, created_utc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING control_id"""
)
_CAP_USED = Stmt("UPDATE assets SET cap_year = ?, cap_used_fen = ? WHERE asset_id = ?")
_KEY_LOCK = Stmt("SELECT pg_advisory_xact_lock(?)")
_STORED = Stmt(
    "SELECT request_sha256, status_code, body FROM idempotency WHERE court_id = ? AND key = ?",
    "request_sha256, status_code, body",
)
_STORE = Stmt(
    "INSERT INTO idempotency (court_id, key, request_sha256, status_code, body)"
    " VALUES (?, ?, ?, ?, ?)"
)


def refuse(now: float, code: str, detail: str) -> Decision:
    return Decision(now=now, outcome=code, detail=detail)


def lock_case_asset(tx: Tx, court: Court, case_id: int, asset_id: str) -> tuple[Any, Any]:
    """The court's case and the asset (with its debtor's region), the asset locked until the
    transaction ends; 404 for a case not the court's or an asset not its debtor's."""
    row = tx.one(_LOCK_CASE_ASSET, (asset_id, case_id, court.court_id))
    if row is None:
        case_of(tx, court, case_id)  # 404 for the case if it is the case that is missing
        raise not_found("asset", asset_id)
    case, asset = _CASE_ROW._make(row[:5]), _ASSET_ROW._make(row[5:])
    if asset.debtor_id != case.debtor_id:
        raise not_found("asset", asset_id)
    return case, asset


def lapse_expired(conn: Connection | Tx, asset_id: str, now: float) -> None:
    """Freezes of this asset that expired without renewal lose their hold (at expiry)."""
    tx = tx_of(conn)
    for f in tx.all(_EXPIRED, (asset_id, now)):
        held = balance(tx, frozen_account(f.freeze_id))
        if held:
            move(
                tx, None, frozen_account(f.freeze_id), debtor_account(asset_id), held, f.expires_sim
            )
        tx.run(_END_FREEZE, ("lapsed", f.expires_sim, f.freeze_id))


def _rank(world: World, region: str, f: Any) -> tuple[bool, int, float]:
    # a record over a channel that can act online first, then the region's preferred
    # channel, then the newest answer (a fresh query gives a fresh record)
    order = world.agencies.preference[region]
    return (not f.online_freeze, order.get(f.channel, len(order)), -f.answer_at_sim)


def decide(
    conn: Connection | Tx,
    world: World,
    court: Court,
    case: Any,
    asset: Any,
    req: ControlRequest,
    now: float,
) -> Decision:
    """Decide a control from the current state (reads only)."""
    tx = tx_of(conn)
    keys = (case.case_id, asset.asset_id)
    visible = tx.all(_VISIBLE, (court_account(case.case_id), *keys, now))
    if not visible:  # the case has not found this asset: as if it did not exist
        raise not_found("asset", asset.asset_id)
    own = tx.all(_OWN_FREEZES, keys)
    active = next((f for f in own if f.status == "active"), None)
    recovered = visible[0].recovered_fen
    outstanding = case.claim_fen - recovered

    if req.action == "freeze":
        if active is not None:
            return refuse(now, "already_frozen", f"freeze {active.freeze_id} is active; renew it")
        best = min(visible, key=lambda f: _rank(world, court.region, f))
        if not best.online_freeze:
            return refuse(
                now, "offline_required", f"the {best.channel} channel cannot freeze online here"
            )
        if best.wrong:
            return refuse(
                now,
                "stale_record",
                f"the {best.channel} record of query {best.query_id} was wrong; query again",
            )
        free = balance(tx, debtor_account(asset.asset_id))
        amount = min(free, outstanding) if req.amount_fen is None else req.amount_fen
        if amount > outstanding or outstanding <= 0:
            return refuse(now, "exceeds_claim", f"{amount} fen > {outstanding} fen outstanding")
        if amount > free or amount <= 0:
            return refuse(now, "insufficient_balance", f"{free} fen free on the asset")
        expires = now + world.freeze_days(asset.region, asset.asset_type)
        return Decision(
            now, "frozen", amount_fen=amount, finding=best, expires=expires, recovered_fen=recovered
        )

    if active is None:
        if own and own[0].status == "lapsed":
            return refuse(now, "freeze_expired", f"freeze {own[0].freeze_id} lapsed unrenewed")
        return refuse(now, "not_frozen", "the case holds no freeze on this asset")
    held = active.held_fen
    base = {"freeze": active, "held_fen": held, "recovered_fen": recovered}
    online = active.online_deduct if req.action == "deduct" else active.online_freeze
    if not online:
        return refuse(
            now, "offline_required", f"the {active.channel} channel cannot {req.action} online"
        )
    if req.action == "renew":
        expires = now + world.freeze_days(asset.region, asset.asset_type)
        return Decision(now, "renewed", expires=expires, **base)
    if req.action == "unfreeze":
        return Decision(now, "unfrozen", amount_fen=held, expires=active.expires_sim, **base)

    # deduct
    amount = int(req.amount_fen or 0)
    if AssetType(asset.asset_type) in SOLD_ASSETS:
        return refuse(now, "sale_required", f"{asset.asset_type} is sold at auction")
    if amount > held:
        return refuse(now, "insufficient_balance", f"{held} fen held by freeze")
    if amount > outstanding:
        return refuse(now, "exceeds_claim", f"{amount} fen > {outstanding} fen outstanding")
    cap_year = cap_used = None
    if asset.asset_type == AssetType.provident_fund.value:
        cap = world.cap_fen(asset.region)
        cap_year = world.clock.year_of(now)
        used = asset.cap_used_fen if asset.cap_year == cap_year else 0
        if cap is not None and used + amount > cap:
            return refuse(
                now,
                "cap_exceeded",
                f"{used} of {cap} fen already deducted in {cap_year} ({asset.region})",
            )
        cap_used = used + amount
    return Decision(
        now,
        "deducted",
        amount_fen=amount,
        expires=active.expires_sim,
        cap_year=cap_year,
        cap_used_fen=cap_used,
        **base,
    )


def apply(
    conn: Connection | Tx,
    world: World,
    court: Court,
    req: ControlRequest,
    d: Decision,
    before_audit: Callable[[int, dict[str, Any]], None] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Carry out decision ``d`` (writes only), call ``before_audit(status, body)`` (the
    idempotency record) and record it in the audit chain last (its head row stays locked
    until commit: the less after it, the shorter the wait of the next control); the reply's
    status and body."""
    tx = tx_of(conn)
    reply = _effects(tx, world, req, d)
    if before_audit is not None:
        before_audit(*reply)
    target = f"case:{req.case_id}/asset:{req.asset_id}"
    audit.append(tx, court.court_id, f"control.{req.action}", target, d.outcome)
    return reply


def _effects(tx: Tx, world: World, req: ControlRequest, d: Decision) -> tuple[int, dict[str, Any]]:
    freeze_id = d.freeze.freeze_id if d.freeze is not None else None
    if d.outcome == "frozen":
        assert d.finding is not None and d.amount_fen is not None and d.expires is not None
        f = d.finding
        new_freeze = (
            req.case_id,
            req.asset_id,
            f.channel,
            bool(f.online_freeze),
            bool(f.online_deduct),
            d.amount_fen,
            d.now,
            d.expires,
        )
        freeze_id = int(tx.value(_NEW_FREEZE, new_freeze))
        open_account(tx, frozen_account(freeze_id), "frozen")
    row = (
        req.case_id,
        req.asset_id,
        req.action,
        None if d.refused else d.amount_fen,
        d.outcome,
        freeze_id,
        d.expires,
        d.now,
        d.cap_year,
        audit.utc_now(),
    )
    control_id = int(tx.value(_NEW_CONTROL, row))
    sim_time = world.clock.iso(d.now)
    if d.refused:
        body = {"code": d.outcome, "detail": d.detail, "control_id": control_id}
        return 409, {**body, "sim_time": sim_time}

    held, recovered = d.held_fen, d.recovered_fen
    amount = d.amount_fen or 0
    assert freeze_id is not None
    if d.outcome == "frozen":
        move(tx, control_id, debtor_account(req.asset_id), frozen_account(freeze_id), amount, d.now)
        held = amount
    elif d.outcome == "renewed":
        tx.run(_RENEW, (d.expires, freeze_id))
    elif d.outcome == "unfrozen":
        if amount:
            move(
                tx,
                control_id,
                frozen_account(freeze_id),
                debtor_account(req.asset_id),
                amount,
                d.now,
            )
        tx.run(_END_FREEZE, ("released", d.now, freeze_id))
        held = 0
    else:  # deducted
        move(tx, control_id, frozen_account(freeze_id), court_account(req.case_id), amount, d.now)
        if d.cap_year is not None:
            tx.run(_CAP_USED, (d.cap_year, d.cap_used_fen, req.asset_id))
        held -= amount
        recovered += amount
    body = {
        "control_id": control_id,
        "case_id": req.case_id,
        "asset_id": req.asset_id,
        "action": req.action,
        "outcome": d.outcome,
        "amount_fen": d.amount_fen,
        "freeze_id": freeze_id,
        "held_fen": held,
        "expires_at": world.clock.iso(d.expires) if d.expires is not None else None,
        "recovered_fen": recovered,
        "sim_time": sim_time,
    }
    if d.cap_year is not None:
        body["cap_year"] = d.cap_year
        body["cap_used_fen"] = d.cap_used_fen
    return 201, body


def key_lock_id(court_id: str, key: str) -> int:
    """A signed 64-bit number naming (court, idempotency key), for an advisory lock."""
    digest = hashlib.sha256(f"{court_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def prepare(
    conn: Connection | Tx, world: World, court: Court, req: ControlRequest
) -> tuple[Any, Any, float]:
    """The court's case and its debtor's asset (locked), after lapsing expired freezes."""
    tx = tx_of(conn)
    case, asset = lock_case_asset(tx, court, req.case_id, req.asset_id)
    now = world.clock.now()
    lapse_expired(tx, req.asset_id, now)
    return case, asset, now


def submit(
    conn: Connection | Tx, world: World, court: Court, key: str, req: ControlRequest
) -> tuple[int, str, str | None]:
    """One control under an idempotency key, in the caller's write transaction: the reply's
    status, its JSON body and the outcome (None for a replay). The same key and body give
    the stored reply again, byte for byte; the same key with another body is refused (422)
    and changes nothing."""
    digest = req.sha256()
    tx = tx_of(conn)
    if tx.pg:
        tx.run(_KEY_LOCK, (key_lock_id(court.court_id, key),))
    stored = tx.one(_STORED, (court.court_id, key))
    if stored is not None:
        if stored.request_sha256 != digest:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different body",
            )
        return stored.status_code, stored.body, None
    case, asset, now = prepare(tx, world, court, req)
    decision = decide(tx, world, court, case, asset, req, now)
    text = ""

    def store(status: int, body: dict[str, Any]) -> None:
        nonlocal text
        text = json.dumps(body, separators=(",", ":"))
        tx.run(_STORE, (court.court_id, key, digest, status, text))

    status, _ = apply(tx, world, court, req, decision, before_audit=store)
    return status, text, decision.outcome
