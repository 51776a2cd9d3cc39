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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Connection, Row, bindparam, func, insert, select, update

from load.api import audit
from load.api.casework import case_of
from load.api.db import assets, debtors, findings, freezes, idempotency
from load.api.db import controls as controls_table
from load.api.errors import REFUSALS, ApiError, not_found
from load.api.ledger import (
    balance,
    court_account,
    debtor_account,
    frozen_account,
    move,
    open_account,
)
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
    finding: Row[Any] | None = None  # the record a freeze relies on
    freeze: Row[Any] | None = None  # the freeze acted on
    expires: float | None = None  # the freeze's expiry after this control
    held_fen: int = 0  # the freeze's hold before this control
    recovered_fen: int = 0  # the case's recovered money before this control
    cap_year: int | None = None
    cap_used_fen: int | None = None  # after this deduction

    @property
    def refused(self) -> bool:
        return self.outcome in REFUSALS


# Statements built once (bound parameters): SQLAlchemy then reuses their compiled form.
_LOCK_ASSET = (
    select(assets, debtors.c.region)
    .join(debtors, debtors.c.debtor_id == assets.c.debtor_id)
    .where(assets.c.asset_id == bindparam("asset_id"))
    .with_for_update(of=assets)
)
_EXPIRED = select(freezes.c.freeze_id, freezes.c.expires_sim).where(
    freezes.c.asset_id == bindparam("asset_id"),
    freezes.c.status == "active",
    freezes.c.expires_sim <= bindparam("now"),
)
_END_FREEZE = (
    update(freezes)
    .where(freezes.c.freeze_id == bindparam("fid"))
    .values(status=bindparam("new_status"), ended_sim=bindparam("ended"))
)
_RENEW = (
    update(freezes)
    .where(freezes.c.freeze_id == bindparam("fid"))
    .values(expires_sim=bindparam("expires"))
)
_VISIBLE = select(findings).where(
    findings.c.case_id == bindparam("case_id"),
    findings.c.asset_id == bindparam("asset_id"),
    findings.c.answer_at_sim <= bindparam("now"),
)
_OWN_FREEZES = (
    select(freezes)
    .where(freezes.c.case_id == bindparam("case_id"), freezes.c.asset_id == bindparam("asset_id"))
    .order_by(freezes.c.freeze_id.desc())
)
_NEW_FREEZE = insert(freezes)
_NEW_CONTROL = insert(controls_table)
_CAP_USED = (
    update(assets)
    .where(assets.c.asset_id == bindparam("aid"))
    .values(cap_year=bindparam("year"), cap_used_fen=bindparam("used"))
)
_KEY_LOCK = select(func.pg_advisory_xact_lock(bindparam("lock_id", type_=BigInteger)))
_STORED = select(idempotency.c.request_sha256, idempotency.c.status_code, idempotency.c.body).where(
    idempotency.c.court_id == bindparam("court_id"), idempotency.c.key == bindparam("key")
)
_STORE = insert(idempotency)


def refuse(now: float, code: str, detail: str) -> Decision:
    return Decision(now=now, outcome=code, detail=detail)


def lock_asset(conn: Connection, asset_id: str) -> Row[Any] | None:
    """The asset and its debtor's region, locked until the transaction ends."""
    return conn.execute(_LOCK_ASSET, {"asset_id": asset_id}).first()


def lapse_expired(conn: Connection, asset_id: str, now: float) -> None:
    """Freezes of this asset that expired without renewal lose their hold (at expiry)."""
    lapsed = conn.execute(_EXPIRED, {"asset_id": asset_id, "now": now}).all()
    for f in lapsed:
        held = balance(conn, frozen_account(f.freeze_id))
        if held:
            move(
                conn,
                None,
                frozen_account(f.freeze_id),
                debtor_account(asset_id),
                held,
                f.expires_sim,
            )
        conn.execute(
            _END_FREEZE, {"fid": f.freeze_id, "new_status": "lapsed", "ended": f.expires_sim}
        )


def _rank(world: World, region: str, f: Row[Any]) -> tuple[bool, int, float]:
    # a record over a channel that can act online first, then the region's preferred
    # channel, then the newest answer (a fresh query gives a fresh record)
    order = world.agencies.preference[region]
    return (not f.online_freeze, order.get(f.channel, len(order)), -f.answer_at_sim)


def decide(
    conn: Connection,
    world: World,
    court: Court,
    case: Row[Any],
    asset: Row[Any],
    req: ControlRequest,
    now: float,
) -> Decision:
    """Decide a control from the current state (reads only)."""
    keys = {"case_id": case.case_id, "asset_id": asset.asset_id}
    visible = conn.execute(_VISIBLE, {**keys, "now": now}).all()
    if not visible:  # the case has not found this asset: as if it did not exist
        raise not_found("asset", asset.asset_id)
    own = conn.execute(_OWN_FREEZES, keys).all()
    active = next((f for f in own if f.status == "active"), None)
    recovered = balance(conn, court_account(case.case_id))
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
        free = balance(conn, debtor_account(asset.asset_id))
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
    held = balance(conn, frozen_account(active.freeze_id))
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
    conn: Connection,
    world: World,
    court: Court,
    req: ControlRequest,
    d: Decision,
) -> tuple[int, dict[str, Any]]:
    """Carry out decision ``d`` (writes only) and record it in the audit chain last (its
    head row stays locked until commit: the less after it, the shorter the wait of the
    next control); the reply's status and body."""
    reply = _effects(conn, world, req, d)
    target = f"case:{req.case_id}/asset:{req.asset_id}"
    audit.append(conn, court.court_id, f"control.{req.action}", target, d.outcome)
    return reply


def _effects(
    conn: Connection, world: World, req: ControlRequest, d: Decision
) -> tuple[int, dict[str, Any]]:
    freeze_id = d.freeze.freeze_id if d.freeze is not None else None
    if d.outcome == "frozen":
        assert d.finding is not None and d.amount_fen is not None and d.expires is not None
        new_freeze = {
            "case_id": req.case_id,
            "asset_id": req.asset_id,
            "channel": d.finding.channel,
            "online_freeze": d.finding.online_freeze,
            "online_deduct": d.finding.online_deduct,
            "amount_fen": d.amount_fen,
            "frozen_sim": d.now,
            "expires_sim": d.expires,
            "status": "active",
        }
        freeze_id = conn.execute(_NEW_FREEZE, new_freeze).inserted_primary_key[0]
        open_account(conn, frozen_account(freeze_id), "frozen")
    row = {
        "case_id": req.case_id,
        "asset_id": req.asset_id,
        "action": req.action,
        "amount_fen": None if d.refused else d.amount_fen,
        "outcome": d.outcome,
        "freeze_id": freeze_id,
        "freeze_expires_sim": d.expires,
        "sim_time": d.now,
        "cap_year": d.cap_year,
        "created_utc": audit.utc_now(),
    }
    control_id = int(conn.execute(_NEW_CONTROL, row).inserted_primary_key[0])
    sim_time = world.clock.iso(d.now)
    if d.refused:
        body = {"code": d.outcome, "detail": d.detail, "control_id": control_id}
        return 409, {**body, "sim_time": sim_time}

    held, recovered = d.held_fen, d.recovered_fen
    amount = d.amount_fen or 0
    if d.outcome == "frozen":
        move(
            conn, control_id, debtor_account(req.asset_id), frozen_account(freeze_id), amount, d.now
        )
        held = amount
    elif d.outcome == "renewed":
        conn.execute(_RENEW, {"fid": freeze_id, "expires": d.expires})
    elif d.outcome == "unfrozen":
        if amount:
            move(
                conn,
                control_id,
                frozen_account(freeze_id),
                debtor_account(req.asset_id),
                amount,
                d.now,
            )
        conn.execute(_END_FREEZE, {"fid": freeze_id, "new_status": "released", "ended": d.now})
        held = 0
    else:  # deducted
        move(conn, control_id, frozen_account(freeze_id), court_account(req.case_id), amount, d.now)
        if d.cap_year is not None:
            conn.execute(
                _CAP_USED, {"aid": req.asset_id, "year": d.cap_year, "used": d.cap_used_fen}
            )
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
    conn: Connection, world: World, court: Court, req: ControlRequest
) -> tuple[Row[Any], Row[Any], float]:
    """The court's case and its debtor's asset (locked), after lapsing expired freezes."""
    case = case_of(conn, court, req.case_id)
    asset = lock_asset(conn, req.asset_id)
    if asset is None or asset.debtor_id != case.debtor_id:
        raise not_found("asset", req.asset_id)
    now = world.clock.now()
    lapse_expired(conn, req.asset_id, now)
    return case, asset, now


def submit(
    conn: Connection, world: World, court: Court, key: str, req: ControlRequest
) -> tuple[int, str, str | None]:
    """One control under an idempotency key, in the caller's write transaction: the reply's
    status, its JSON body and the outcome (None for a replay). The same key and body give
    the stored reply again, byte for byte; the same key with another body is refused (422)
    and changes nothing."""
    digest = req.sha256()
    if conn.dialect.name == "postgresql":
        conn.execute(_KEY_LOCK, {"lock_id": key_lock_id(court.court_id, key)})
    stored = conn.execute(_STORED, {"court_id": court.court_id, "key": key}).first()
    if stored is not None:
        if stored.request_sha256 != digest:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different body",
            )
        return stored.status_code, stored.body, None
    case, asset, now = prepare(conn, world, court, req)
    decision = decide(conn, world, court, case, asset, req, now)
    status, body = apply(conn, world, court, req, decision)
    text = json.dumps(body, separators=(",", ":"))
    stored_reply = {
        "court_id": court.court_id,
        "key": key,
        "request_sha256": digest,
        "status_code": status,
        "body": text,
    }
    conn.execute(_STORE, stored_reply)
    return status, text, decision.outcome
