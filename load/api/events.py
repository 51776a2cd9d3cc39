"""What happens to an asset after controls were made on it: agencies act, freezes lapse,
waiting freezes take effect.

Nothing runs in the background. Before anything reads or changes an asset's freezes (a
control on it, a control's status, a case's view, a reconciliation), :func:`settle` brings
the asset up to the clock inside the caller's transaction, which holds the asset's lock:
every event due since it was last looked at is carried out in the order of its simulated
time and stamped with that time, as if it had happened then. The events:

- ``act``: an agency carries out a control (``[api] controls = "scenario"``): the money it
  reserved moves on (``settle``) or back (``refund``), a freeze takes hold or waits in line,
  an unfreeze releases its hold, a renewal moves the expiry;
- ``duplicate``: a second copy of an agency's answer arrives (fault mode): recorded and
  ignored; a control acts once whatever its answers say;
- ``lapse``: a freeze reached its expiry unrenewed: its hold goes back to the debtor;
- ``external``: another authority's earlier freeze (轮候) is released, having taken all but
  its remaining share of the asset.

Whenever money goes back to an asset's free balance, the freezes waiting in line on it take
effect, oldest first, each on what is free and what its case's claim still needs
(:func:`serve_line`).
"""

from __future__ import annotations

from typing import Any

from load.api.audit import Batch, Entry
from load.api.ledger import (
    Cause,
    balance,
    balance_or_zero,
    committed,
    court_account,
    debtor_account,
    ensure_account,
    frozen_account,
    move,
    other_account,
    pending_account,
)
from load.api.schema import OPEN_CONTROL
from load.api.sql import Stmt, Tx
from load.api.world import World

ACT, DUPLICATE, LAPSE, EXTERNAL = 1, 2, 3, 4

_LAPSES = Stmt(
    """SELECT expires_sim, freeze_id FROM freezes
       WHERE asset_id = ? AND status = 'active' AND expires_sim <= ?"""
)
_NEXT_EVENT = Stmt(
    f"""SELECT t, kind, ref FROM (
         SELECT act_sim AS t, 1 AS kind, control_id AS ref FROM controls
           WHERE asset_id = ? AND {OPEN_CONTROL} AND NOT acted AND act_sim <= ?
         UNION ALL SELECT duplicate_sim, 2, control_id FROM controls
           WHERE asset_id = ? AND {OPEN_CONTROL} AND NOT duplicate_seen AND duplicate_sim <= ?
         UNION ALL SELECT expires_sim, 3, freeze_id FROM freezes
           WHERE asset_id = ? AND status = 'active' AND expires_sim <= ?
         UNION ALL SELECT external_release_sim, 4, freeze_id FROM freezes
           WHERE asset_id = ? AND status = 'waiting' AND external_release_sim <= ?
       ) due ORDER BY t, kind, ref LIMIT 1"""
)
_ASSET = Stmt(
    """SELECT a.asset_id, a.asset_type, a.cap_year, a.cap_used_fen, d.region
       FROM assets a JOIN debtors d ON d.debtor_id = a.debtor_id WHERE a.asset_id = ?""",
    "asset_id, asset_type, cap_year, cap_used_fen, region",
)
_FREEZE = Stmt(
    """SELECT f.freeze_id, f.case_id, f.asset_id, f.control_id, f.amount_fen, f.status,
              f.expires_sim, f.external_release_sim, f.external_share, f.external_held_fen,
              c.court_id, c.claim_fen
       FROM freezes f JOIN cases c ON c.case_id = f.case_id WHERE f.freeze_id = ?""",
    "freeze_id, case_id, asset_id, control_id, amount_fen, status, expires_sim,"
    " external_release_sim, external_share, external_held_fen, court_id, claim_fen",
)
_CONTROL = Stmt(
    """SELECT k.control_id, k.case_id, k.asset_id, k.action, k.amount_fen, k.freeze_id,
              k.act_sim, k.cap_year, k.fate, c.court_id
       FROM controls k JOIN cases c ON c.case_id = k.case_id WHERE k.control_id = ?""",
    "control_id, case_id, asset_id, action, amount_fen, freeze_id, act_sim, cap_year, fate,"
    " court_id",
)
_LINE = Stmt(
    """SELECT freeze_id FROM freezes WHERE asset_id = ? AND status = 'waiting'
       AND external_release_sim IS NULL ORDER BY freeze_id"""
)
_LOCK_CASE = Stmt("SELECT case_id FROM cases WHERE case_id = ?", lock="FOR UPDATE")
_HOLD = Stmt(
    "UPDATE freezes SET status = 'active', effective_sim = ?, expires_sim = ?, amount_fen = ?"
    " WHERE freeze_id = ?"
)
_END = Stmt("UPDATE freezes SET status = ?, ended_sim = ? WHERE freeze_id = ?")
_WAIT = Stmt("UPDATE freezes SET status = 'waiting', external_held_fen = ? WHERE freeze_id = ?")
_EXTERNAL_OVER = Stmt("UPDATE freezes SET external_release_sim = NULL WHERE freeze_id = ?")
_RENEW = Stmt("UPDATE freezes SET expires_sim = ? WHERE freeze_id = ?")
_ACTED = Stmt(
    "UPDATE controls SET acted = TRUE, status = ?, outcome = ?, amount_fen = ?,"
    " freeze_expires_sim = ? WHERE control_id = ?"
)
_DUPLICATE_SEEN = Stmt("UPDATE controls SET duplicate_seen = TRUE WHERE control_id = ?")
_CAP_BACK = Stmt(
    "UPDATE assets SET cap_used_fen = cap_used_fen - ? WHERE asset_id = ? AND cap_year = ?"
)


def target(case_id: int, asset_id: str) -> str:
    return f"case:{case_id}/asset:{asset_id}"


def entry(
    case_id: int,
    court: str,
    t: float,
    action: str,
    where: str,
    outcome: str,
    moved: tuple[str, str, int] | None = None,
) -> Entry:
    debit, credit, amount = moved if moved is not None else (None, None, None)
    return Entry(t, court, action, where, outcome, amount, debit, credit)


def settle(tx: Tx, world: World, asset_id: str, now: float, batch: Batch) -> None:
    """Carry out every event due on ``asset_id`` by ``now``, in time order (the caller holds
    the asset's lock)."""
    if not world.timed_controls:  # only lapses (each may let a waiting freeze take hold)
        for t, freeze_id in sorted(tx.all(_LAPSES, (asset_id, now))):
            lapse(tx, world, freeze_id, t, batch)
        return
    while True:
        params = (asset_id, now, asset_id, now, asset_id, now, asset_id, now)
        due = tx.one(_NEXT_EVENT, params)
        if due is None:
            return
        t, kind, ref = float(due[0]), int(due[1]), int(due[2])
        if kind == ACT:
            act(tx, world, ref, batch)
        elif kind == DUPLICATE:
            duplicate(tx, ref, t, batch)
        elif kind == LAPSE:
            lapse(tx, world, ref, t, batch)
        else:
            external_release(tx, world, ref, t, batch)


def _moved(
    tx: Tx, cause: Cause, debit: str, credit: str, amount: int, t: float
) -> tuple[str, str, int] | None:
    if amount <= 0:
        return None
    move(tx, cause, debit, credit, amount, t)
    return debit, credit, amount


def lapse(tx: Tx, world: World, freeze_id: int, t: float, batch: Batch) -> None:
    """A freeze expired unrenewed: its hold goes back to the debtor, the line moves."""
    f = tx.one(_FREEZE, (freeze_id,))
    held = balance(tx, frozen_account(freeze_id))
    cause = Cause("lapse", f.case_id, f.control_id, freeze_id)
    moved = _moved(tx, cause, frozen_account(freeze_id), debtor_account(f.asset_id), held, t)
    tx.run(_END, ("lapsed", t, freeze_id))
    where = f"{target(f.case_id, f.asset_id)}/freeze:{freeze_id}"
    batch.add(entry(f.case_id, f.court_id, t, "system.lapse", where, "lapsed", moved))
    serve_line(tx, world, f.asset_id, t, batch)


def external_release(tx: Tx, world: World, freeze_id: int, t: float, batch: Batch) -> None:
    """Another authority's earlier freeze is released, having taken all but its share."""
    f = tx.one(_FREEZE, (freeze_id,))
    left = round((f.external_held_fen or 0) * min(1.0, max(0.0, f.external_share or 0.0)))
    cause = Cause("other", f.case_id, f.control_id, freeze_id)
    moved = _moved(tx, cause, other_account(f.asset_id), debtor_account(f.asset_id), left, t)
    tx.run(_EXTERNAL_OVER, (freeze_id,))
    where = f"{target(f.case_id, f.asset_id)}/freeze:{freeze_id}"
    batch.add(entry(f.case_id, f.court_id, t, "system.other_authority", where, "released", moved))
    serve_line(tx, world, f.asset_id, t, batch)


def serve_line(tx: Tx, world: World, asset_id: str, t: float, batch: Batch) -> None:
    """The freezes waiting in line on the asset take effect, oldest first, on what is free
    and what each case still needs; one whose case needs nothing more leaves the line."""
    line = tx.all(_LINE, (asset_id,))
    if not line:
        return
    asset = tx.one(_ASSET, (asset_id,))
    for (freeze_id,) in line:
        free = balance(tx, debtor_account(asset_id))
        if free <= 0:
            return
        f = tx.one(_FREEZE, (freeze_id,))
        if tx.pg:
            tx.run(_LOCK_CASE, (f.case_id,))
        money = committed(tx, f.case_id)
        limit = world.commit_limit(f.claim_fen) - sum(money.values())
        where = f"{target(f.case_id, asset_id)}/freeze:{freeze_id}"
        if limit <= 0:
            tx.run(_END, ("released", t, freeze_id))
            batch.add(entry(f.case_id, f.court_id, t, "system.take_effect", where, "not_needed"))
            continue
        take = min(f.amount_fen, free, limit)
        cause = Cause("take_effect", f.case_id, f.control_id, freeze_id)
        moved = _moved(tx, cause, debtor_account(asset_id), frozen_account(freeze_id), take, t)
        expires = t + world.freeze_days(asset.region, asset.asset_type)
        tx.run(_HOLD, (t, expires, take, freeze_id))
        batch.add(entry(f.case_id, f.court_id, t, "system.take_effect", where, "frozen", moved))


def duplicate(tx: Tx, control_id: int, t: float, batch: Batch) -> None:
    """A second copy of an agency's answer: recorded, and nothing done twice."""
    c = tx.one(_CONTROL, (control_id,))
    tx.run(_DUPLICATE_SEEN, (control_id,))
    where = f"{target(c.case_id, c.asset_id)}/control:{control_id}"
    batch.add(entry(c.case_id, c.court_id, t, "agency.reply", where, "duplicate_ignored"))


def act(tx: Tx, world: World, control_id: int, batch: Batch) -> None:
    """The agency carries out control ``control_id`` (at its ``act_sim``)."""
    c = tx.one(_CONTROL, (control_id,))
    t = float(c.act_sim)
    where = f"{target(c.case_id, c.asset_id)}/control:{control_id}"
    status, outcome, amount, expires, moved = _carry_out(tx, world, c, c.fate, t, batch)
    tx.run(_ACTED, (status, outcome, amount, expires, control_id))
    batch.add(entry(c.case_id, c.court_id, t, f"agency.{c.action}", where, outcome, moved))
    if c.action in ("unfreeze",) or outcome == "waiting":
        serve_line(tx, world, c.asset_id, t, batch)


def _carry_out(
    tx: Tx, world: World, c: Any, fate: str, t: float, batch: Batch
) -> tuple[str, str, int | None, float | None, tuple[str, str, int] | None]:
    """(status, outcome, amount, the freeze's expiry, the money moved) of an act."""
    pending = pending_account(c.control_id)
    reserved = balance_or_zero(tx, pending)
    f = tx.one(_FREEZE, (c.freeze_id,)) if c.freeze_id is not None else None
    asset = tx.one(_ASSET, (c.asset_id,))
    if c.action == "freeze":
        assert f is not None
        if fate == "failed":
            cause = Cause("refund", c.case_id, c.control_id, f.freeze_id)
            moved = _moved(tx, cause, pending, debtor_account(c.asset_id), reserved, t)
            tx.run(_END, ("failed", t, f.freeze_id))
            return "failed", "agency_failed", None, None, moved
        if f.external_release_sim is not None:  # another authority's freeze came first:
            cause = Cause("refund", c.case_id, c.control_id, f.freeze_id)  # it holds the asset
            moved = _moved(tx, cause, pending, debtor_account(c.asset_id), reserved, t)
            held = balance(tx, debtor_account(c.asset_id))
            ensure_account(tx, other_account(c.asset_id), "other")
            other = Cause("other", c.case_id, c.control_id, f.freeze_id)
            hold = _moved(tx, other, debtor_account(c.asset_id), other_account(c.asset_id), held, t)
            tx.run(_WAIT, (held, f.freeze_id))
            where = f"{target(c.case_id, c.asset_id)}/freeze:{f.freeze_id}"
            batch.add(
                entry(c.case_id, c.court_id, t, "system.other_authority", where, "holds", hold)
            )
            return "done", "waiting", f.amount_fen, None, moved
        if reserved <= 0:  # nothing was free when it was made: it waits in line
            tx.run(_WAIT, (None, f.freeze_id))
            return "done", "waiting", f.amount_fen, None, None
        cause = Cause("settle", c.case_id, c.control_id, f.freeze_id)
        moved = _moved(tx, cause, pending, frozen_account(f.freeze_id), reserved, t)
        expires = t + world.freeze_days(asset.region, asset.asset_type)
        tx.run(_HOLD, (t, expires, reserved, f.freeze_id))
        return "done", "frozen", reserved, expires, moved
    assert f is not None
    if c.action == "deduct":
        if fate == "failed":
            back = frozen_account(f.freeze_id) if f.status == "active" else None
            back = back or debtor_account(c.asset_id)
            cause = Cause("refund", c.case_id, c.control_id, f.freeze_id)
            moved = _moved(tx, cause, pending, back, reserved, t)
            if c.cap_year is not None:
                tx.run(_CAP_BACK, (reserved, c.asset_id, c.cap_year))
            return "failed", "agency_failed", None, None, moved
        cause = Cause("settle", c.case_id, c.control_id, f.freeze_id)
        moved = _moved(tx, cause, pending, court_account(c.case_id), reserved, t)
        return "done", "deducted", reserved, f.expires_sim, moved
    if f.status not in ("active", "waiting"):
        code = "freeze_expired" if f.status == "lapsed" else "not_frozen"
        return "failed", code, None, None, None
    if c.action == "renew":
        if f.status != "active":
            return "failed", "not_frozen", None, None, None
        expires = t + world.freeze_days(asset.region, asset.asset_type)
        tx.run(_RENEW, (expires, f.freeze_id))
        return "done", "renewed", None, expires, None
    # unfreeze
    held = balance(tx, frozen_account(f.freeze_id))
    cause = Cause("release", c.case_id, c.control_id, f.freeze_id)
    moved = _moved(tx, cause, frozen_account(f.freeze_id), debtor_account(c.asset_id), held, t)
    tx.run(_END, ("released", t, f.freeze_id))
    return "done", "unfrozen", held, f.expires_sim, moved
