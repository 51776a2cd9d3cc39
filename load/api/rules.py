"""What a control may do: the rules, decided from what its transaction read (reads only).

The checks, in order (each refusal a 409 ``code``):

- any action: ``control_pending`` while another control of the case on the asset is still
  with the agency (``[api] controls = "scenario"``).
- freeze: ``already_frozen`` (the case holds a freeze on the asset, in force, in line or
  with the agency); the record relied on (one over a channel that can act online first, then
  the region's preferred channel, then the newest) ``offline_required`` if its channel
  cannot freeze online, ``stale_record`` if it was wrong; ``exceeds_claim`` when the case's
  freezes would hold more than its claim still needs (``[api] over_freeze_share`` more if
  the scenario says courts over-freeze); ``insufficient_balance`` beyond the asset's free
  balance. When nothing is free because earlier freezes hold the asset, the freeze waits in
  line (轮候, outcome ``waiting``) and takes effect when they are released.
- renew, unfreeze, deduct: ``freeze_expired`` if the case's freeze lapsed unrenewed,
  ``not_frozen`` if it has none (a waiting freeze cannot be renewed); ``offline_required``
  if the freeze's channel cannot act online; for a deduction also ``sale_required`` (real
  estate, vehicles), ``insufficient_balance`` (beyond the hold; a waiting freeze holds
  nothing), ``exceeds_claim`` (beyond the claim still owed, deductions on their way
  counted), ``cap_exceeded`` (the provident-fund cap of the asset's region in the calendar
  year of the simulated clock, deductions on their way counted).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from load.api.errors import REFUSALS, not_found
from load.api.ledger import balance, committed, debtor_account
from load.api.sql import Stmt, Tx
from load.api.world import Court, World
from sim.scenario.schema import SOLD_ASSETS, AssetType

LIVE = ("active", "waiting", "pending")  # a freeze the case holds (or will)


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
    outcome: str  # frozen | waiting | renewed | unfrozen | deducted, or a refusal code
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
_IN_FLIGHT = Stmt(
    "SELECT control_id FROM controls WHERE case_id = ? AND asset_id = ? AND NOT acted LIMIT 1"
)
_HELD_BY_OTHERS = Stmt(
    """SELECT freeze_id FROM freezes WHERE asset_id = ? AND case_id <> ?
       AND (status IN ('active', 'pending') OR external_release_sim IS NOT NULL) LIMIT 1"""
)
_DEDUCTIONS_ON_THE_WAY = Stmt(
    """SELECT COALESCE(SUM(a.balance_fen), 0) FROM controls c
       JOIN accounts a ON a.account_id = 'pending:' || c.control_id
       WHERE c.case_id = ? AND c.action = 'deduct' AND NOT c.acted"""
)


def refuse(now: float, code: str, detail: str) -> Decision:
    return Decision(now=now, outcome=code, detail=detail)


def _rank(world: World, region: str, f: Any) -> tuple[bool, int, float]:
    # a record over a channel that can act online first, then the region's preferred
    # channel, then the newest answer (a fresh query gives a fresh record)
    order = world.agencies.preference[region]
    return (not f.online_freeze, order.get(f.channel, len(order)), -f.answer_at_sim)


def decide(
    tx: Tx, world: World, court: Court, case: Any, asset: Any, req: ControlRequest, now: float
) -> Decision:
    """Decide a control from the current state (reads only)."""
    keys = (case.case_id, asset.asset_id)
    visible = tx.all(_VISIBLE, (f"court:{case.case_id}", *keys, now))
    if not visible:  # the case has not found this asset: as if it did not exist
        raise not_found("asset", asset.asset_id)
    if world.timed_controls:
        pending = tx.value(_IN_FLIGHT, keys)
        if pending is not None:
            return refuse(now, "control_pending", f"control {pending} is still with the agency")
    own = tx.all(_OWN_FREEZES, keys)
    live = next((f for f in own if f.status in LIVE), None)
    recovered = visible[0].recovered_fen
    if req.action == "freeze":
        return _freeze(tx, world, court, case, asset, req, now, visible, live, recovered)
    if live is None:
        if own and own[0].status == "lapsed":
            return refuse(now, "freeze_expired", f"freeze {own[0].freeze_id} lapsed unrenewed")
        return refuse(now, "not_frozen", "the case holds no freeze on this asset")
    held = live.held_fen
    base = {"freeze": live, "held_fen": held, "recovered_fen": recovered}
    online = live.online_deduct if req.action == "deduct" else live.online_freeze
    if not online:
        return refuse(
            now, "offline_required", f"the {live.channel} channel cannot {req.action} online"
        )
    waiting = f"freeze {live.freeze_id} is waiting in line (轮候) and holds nothing yet"
    if req.action == "renew":
        if live.status == "waiting":
            return refuse(now, "not_frozen", waiting)
        expires = now + world.freeze_days(asset.region, asset.asset_type)
        return Decision(now, "renewed", expires=expires, **base)
    if req.action == "unfreeze":
        return Decision(now, "unfrozen", amount_fen=held, expires=live.expires_sim, **base)
    return _deduct(tx, world, case, asset, req, now, live, base)


def _freeze(
    tx: Tx,
    world: World,
    court: Court,
    case: Any,
    asset: Any,
    req: ControlRequest,
    now: float,
    visible: list[Any],
    live: Any,
    recovered: int,
) -> Decision:
    if live is not None:
        state = "waiting in line" if live.status == "waiting" else live.status
        return refuse(now, "already_frozen", f"freeze {live.freeze_id} is {state}; renew it")
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
    money = committed(tx, case.case_id)
    limit = world.commit_limit(case.claim_fen) - money["court"] - money["frozen"] - money["pending"]
    if limit <= 0 or (req.amount_fen is not None and req.amount_fen > limit):
        held = money["frozen"] + money["pending"]
        return refuse(
            now,
            "exceeds_claim",
            f"the case's freezes may hold {max(limit, 0)} fen more (claim {case.claim_fen} fen, "
            f"{money['court']} recovered, {held} held or on its way)",
        )
    free = balance(tx, debtor_account(asset.asset_id))
    expires = now + world.freeze_days(asset.region, asset.asset_type)
    if free > 0:
        amount = min(free, limit) if req.amount_fen is None else req.amount_fen
        if amount > free:
            return refuse(now, "insufficient_balance", f"{free} fen free on the asset")
        return Decision(
            now, "frozen", amount_fen=amount, finding=best, expires=expires, recovered_fen=recovered
        )
    if tx.value(_HELD_BY_OTHERS, (asset.asset_id, case.case_id)) is None:
        return refuse(now, "insufficient_balance", "0 fen free on the asset")
    amount = limit if req.amount_fen is None else req.amount_fen
    return Decision(now, "waiting", amount_fen=amount, finding=best, recovered_fen=recovered)


def _deduct(
    tx: Tx,
    world: World,
    case: Any,
    asset: Any,
    req: ControlRequest,
    now: float,
    live: Any,
    base: dict[str, Any],
) -> Decision:
    amount = int(req.amount_fen or 0)
    held, recovered = base["held_fen"], base["recovered_fen"]
    if AssetType(asset.asset_type) in SOLD_ASSETS:
        return refuse(now, "sale_required", f"{asset.asset_type} is sold at auction")
    if live.status == "waiting":
        return refuse(
            now,
            "insufficient_balance",
            f"freeze {live.freeze_id} is waiting in line (轮候) and holds nothing yet",
        )
    if amount > held:
        return refuse(now, "insufficient_balance", f"{held} fen held by freeze")
    on_the_way = 0
    if world.timed_controls:
        on_the_way = int(tx.value(_DEDUCTIONS_ON_THE_WAY, (case.case_id,)))
    outstanding = case.claim_fen - recovered - on_the_way
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
        expires=live.expires_sim,
        cap_year=cap_year,
        cap_used_fen=cap_used,
        **base,
    )
