"""Carrying out a control's decision when it is made (writes only).

- ``[api] controls = "instant"`` (the default): the control is done (or refused) at once:
  its freeze holds, its deduction reaches the court, its release frees the hold; the reply
  is 201 (or 409), as in earlier versions.
- ``"scenario"``: the control goes to the agency (:meth:`load.api.agencies.Agencies.control`
  draws its timeline and fate, kept on the row); what it will move is reserved now in its
  ``pending`` account (a freeze's amount from the debtor, a deduction's from the hold, and a
  provident-fund deduction's share of the cap), so nothing decided later can count the same
  money twice; :mod:`load.api.events` moves it on when the agency acts. The reply is 202
  ``accepted``; ``GET /v1/controls/{id}`` follows it.

A refusal is recorded as a control too (409, replayed under its key like a success).
"""

from __future__ import annotations

from typing import Any

from load.api import audit
from load.api.audit import Batch
from load.api.events import entry, serve_line, target
from load.api.ledger import (
    Cause,
    court_account,
    debtor_account,
    frozen_account,
    move,
    open_account,
    pending_account,
)
from load.api.rules import ControlRequest, Decision
from load.api.sql import Stmt, Tx
from load.api.world import Court, World

_NEW_CONTROL = Stmt(
    """INSERT INTO controls (case_id, asset_id, action, amount_fen, outcome, status, freeze_id,
                             freeze_expires_sim, sim_time, cap_year, created_utc, acted,
                             duplicate_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING control_id"""
)
_TIMELINE = Stmt(
    """UPDATE controls SET pickup_sim = ?, act_sim = ?, reply_sim = ?, deadline_sim = ?,
                           duplicate_sim = ?, duplicate_seen = ?, fate = ?, freeze_id = ?
       WHERE control_id = ?"""
)
_NEW_FREEZE = Stmt(
    """INSERT INTO freezes (case_id, asset_id, control_id, channel, online_freeze, online_deduct,
                            amount_fen, frozen_sim, effective_sim, expires_sim, status,
                            external_release_sim, external_share)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING freeze_id"""
)
_FREEZE_OF = Stmt("UPDATE controls SET freeze_id = ? WHERE control_id = ?")
_END_FREEZE = Stmt("UPDATE freezes SET status = ?, ended_sim = ? WHERE freeze_id = ?")
_RENEW = Stmt("UPDATE freezes SET expires_sim = ? WHERE freeze_id = ?")
_CAP_USED = Stmt("UPDATE assets SET cap_year = ?, cap_used_fen = ? WHERE asset_id = ?")


def record(
    tx: Tx,
    world: World,
    court: Court,
    req: ControlRequest,
    d: Decision,
    asset: Any,
    batch: Batch,
) -> tuple[int, dict[str, Any]]:
    """Record control ``req`` as decided (``d``) and carry it out, or hand it to the agency;
    the reply's status and body. Its audit entry goes into ``batch``."""
    timed = world.timed_controls and not d.refused
    status = "refused" if d.refused else ("with_agency" if timed else "done")
    row = (
        req.case_id,
        req.asset_id,
        req.action,
        None if d.refused or timed else d.amount_fen,
        None if timed else d.outcome,
        status,
        d.freeze.freeze_id if d.freeze is not None else None,
        None if timed else d.expires,
        d.now,
        d.cap_year,
        batch.at_utc or audit.utc_now(),
        not timed,
        True,
    )
    control_id = int(tx.value(_NEW_CONTROL, row))
    if d.refused:
        where = target(req.case_id, req.asset_id)
        sim_time = world.clock.iso(d.now)
        batch.add(
            entry(req.case_id, court.court_id, d.now, f"control.{req.action}", where, d.outcome)
        )
        body = {"code": d.outcome, "detail": d.detail, "control_id": control_id}
        return 409, {**body, "sim_time": sim_time}
    if timed:
        return _to_agency(tx, world, court, req, d, asset, control_id, batch)
    return _now(tx, world, court, req, d, control_id, batch)


def _new_freeze(
    tx: Tx, req: ControlRequest, d: Decision, control_id: int, status: str, **later: Any
) -> int:
    f = d.finding
    assert f is not None
    row = (
        req.case_id,
        req.asset_id,
        control_id,
        f.channel,
        bool(f.online_freeze),
        bool(f.online_deduct),
        d.amount_fen,
        d.now,
        later.get("effective"),
        later.get("expires"),
        status,
        later.get("external_release"),
        later.get("external_share"),
    )
    freeze_id = int(tx.value(_NEW_FREEZE, row))
    open_account(tx, frozen_account(freeze_id), "frozen", req.case_id)
    return freeze_id


def _now(
    tx: Tx,
    world: World,
    court: Court,
    req: ControlRequest,
    d: Decision,
    control_id: int,
    batch: Batch,
) -> tuple[int, dict[str, Any]]:
    """Done at once."""
    freeze_id = d.freeze.freeze_id if d.freeze is not None else None
    held, recovered = d.held_fen, d.recovered_fen
    amount = d.amount_fen or 0
    cause = Cause("control", req.case_id, control_id, freeze_id)
    moved: tuple[str, str, int] | None = None
    if d.outcome in ("frozen", "waiting"):
        active = d.outcome == "frozen"
        freeze_id = _new_freeze(
            tx, req, d, control_id, "active" if active else "waiting",
            effective=d.now if active else None, expires=d.expires if active else None,
        )  # fmt: skip
        tx.run(_FREEZE_OF, (freeze_id, control_id))
        if active:
            cause = Cause("control", req.case_id, control_id, freeze_id)
            moved = (debtor_account(req.asset_id), frozen_account(freeze_id), amount)
            held = amount
        else:
            held = 0
    elif d.outcome == "renewed":
        tx.run(_RENEW, (d.expires, freeze_id))
    elif d.outcome == "unfrozen":
        assert freeze_id is not None
        if amount:
            moved = (frozen_account(freeze_id), debtor_account(req.asset_id), amount)
        held = 0
    else:  # deducted
        assert freeze_id is not None
        moved = (frozen_account(freeze_id), court_account(req.case_id), amount)
        if d.cap_year is not None:
            tx.run(_CAP_USED, (d.cap_year, d.cap_used_fen, req.asset_id))
        held -= amount
        recovered += amount
    if moved is not None:
        move(tx, cause, *moved, d.now)
    where = target(req.case_id, req.asset_id)
    batch.add(
        entry(req.case_id, court.court_id, d.now, f"control.{req.action}", where, d.outcome, moved)
    )
    if d.outcome == "unfrozen":
        assert freeze_id is not None
        tx.run(_END_FREEZE, ("released", d.now, freeze_id))
        serve_line(tx, world, req.asset_id, d.now, batch)
    body = {
        "control_id": control_id,
        "case_id": req.case_id,
        "asset_id": req.asset_id,
        "action": req.action,
        "status": "done",
        "outcome": d.outcome,
        "amount_fen": d.amount_fen,
        "freeze_id": freeze_id,
        "held_fen": held,
        "expires_at": world.clock.iso(d.expires) if d.expires is not None else None,
        "recovered_fen": recovered,
        "sim_time": world.clock.iso(d.now),
    }
    if d.cap_year is not None:
        body["cap_year"] = d.cap_year
        body["cap_used_fen"] = d.cap_used_fen
    return 201, body


def _to_agency(
    tx: Tx,
    world: World,
    court: Court,
    req: ControlRequest,
    d: Decision,
    asset: Any,
    control_id: int,
    batch: Batch,
) -> tuple[int, dict[str, Any]]:
    """Handed to the agency: its timeline drawn, its money reserved."""
    source = d.finding if d.finding is not None else d.freeze
    assert source is not None
    channel = source.channel
    plan = world.agencies.control(
        court.region, channel, asset.agency, asset.asset_type, req.action, control_id, d.now
    )
    reply = plan.reply
    freeze_id = d.freeze.freeze_id if d.freeze is not None else None
    pending = pending_account(control_id)
    moved: tuple[str, str, int] | None = None
    if req.action == "freeze":
        freeze_id = _new_freeze(
            tx, req, d, control_id, "pending",
            external_release=plan.waiting_until,
            external_share=plan.remaining_share if plan.waiting_until is not None else None,
        )  # fmt: skip
        if d.outcome == "frozen" and d.amount_fen:
            moved = (debtor_account(req.asset_id), pending, d.amount_fen)
    elif req.action == "deduct":
        assert freeze_id is not None and d.amount_fen
        moved = (frozen_account(freeze_id), pending, d.amount_fen)
        if d.cap_year is not None:
            tx.run(_CAP_USED, (d.cap_year, d.cap_used_fen, req.asset_id))
    timeline = (
        reply.pickup,
        plan.act,
        reply.reply,
        reply.deadline,
        reply.duplicate,
        reply.duplicate is None,
        "failed" if plan.fails else "done",
        freeze_id,
        control_id,
    )
    tx.run(_TIMELINE, timeline)
    if moved is not None:
        open_account(tx, pending, "pending", req.case_id)
        move(tx, Cause("reserve", req.case_id, control_id, freeze_id), *moved, d.now)
    where = target(req.case_id, req.asset_id)
    batch.add(
        entry(req.case_id, court.court_id, d.now, f"control.{req.action}", where, "accepted", moved)
    )
    return 202, {
        "control_id": control_id,
        "case_id": req.case_id,
        "asset_id": req.asset_id,
        "action": req.action,
        "status": "accepted",
        "amount_fen": d.amount_fen,
        "freeze_id": freeze_id,
        "sim_time": world.clock.iso(d.now),
    }
