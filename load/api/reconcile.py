"""Reconciliation: prove from the records that no money was created, lost or taken twice.

Checks, each independent of the code that moved the money:

1. money is conserved to the fen: debtor balances + frozen holds + court accounts = the
   initial total of the debtors' assets;
2. every account's balance equals its opening balance plus what the journal moved in and
   out of it (no money moved outside the journal), and none is negative;
3. no provident-fund asset gave more than its region's annual cap in any calendar year
   (summed from the deductions themselves, not from the running counter);
4. no deduction was taken against a freeze that was not in force: every deduction names a
   freeze of the same case and asset, made before it, not released or lapsed before it,
   and whose expiry in force at the time (set by the freeze or its latest renewal before
   the deduction) was still ahead;
5. no case recovered more than its claim, and each deduction journal entry matches its
   control.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, func, select

from load.api.db import accounts, assets, cases, controls, debtors, freezes, journal
from load.api.ledger import court_account
from load.api.world import World

MAX_LISTED = 20  # problems listed in the answer (the count is always complete)


def reconcile(conn: Connection, world: World) -> dict[str, Any]:
    problems: list[str] = []
    by_kind = dict(
        conn.execute(
            select(accounts.c.kind, func.coalesce(func.sum(accounts.c.balance_fen), 0)).group_by(
                accounts.c.kind
            )
        ).all()
    )
    totals = {k: int(by_kind.get(k, 0)) for k in ("debtor", "frozen", "court")}
    total = sum(totals.values())
    if total != world.initial_total_fen:
        problems.append(
            f"money not conserved: {total} fen in accounts, {world.initial_total_fen} at start"
        )

    # 2. balances from the journal
    expected: dict[str, int] = defaultdict(int)
    for asset_id, initial in conn.execute(select(assets.c.asset_id, assets.c.initial_fen)):
        expected[f"debtor:{asset_id}"] += initial
    for account, amount in conn.execute(
        select(journal.c.debit_account, func.sum(journal.c.amount_fen)).group_by(
            journal.c.debit_account
        )
    ):
        expected[account] -= int(amount)
    for account, amount in conn.execute(
        select(journal.c.credit_account, func.sum(journal.c.amount_fen)).group_by(
            journal.c.credit_account
        )
    ):
        expected[account] += int(amount)
    actual = dict(conn.execute(select(accounts.c.account_id, accounts.c.balance_fen)).all())
    for account in sorted(set(expected) | set(actual)):
        if account not in actual:
            problems.append(f"journal moves money through unknown account {account}")
        elif actual[account] != expected.get(account, 0):
            problems.append(
                f"{account}: balance {actual[account]} fen, journal says {expected[account]}"
            )
        elif actual[account] < 0:
            problems.append(f"{account}: negative balance {actual[account]} fen")

    # 3. provident-fund caps, per asset and calendar year (the year from each deduction's time)
    per_year: dict[tuple[str, int], int] = defaultdict(int)
    region_of: dict[str, str] = {}
    for asset_id, t, amount, cap_year, region in conn.execute(
        select(
            controls.c.asset_id,
            controls.c.sim_time,
            controls.c.amount_fen,
            controls.c.cap_year,
            debtors.c.region,
        )
        .join(assets, assets.c.asset_id == controls.c.asset_id)
        .join(debtors, debtors.c.debtor_id == assets.c.debtor_id)
        .where(controls.c.outcome == "deducted", assets.c.asset_type == "provident_fund")
    ):
        year = world.clock.year_of(t)
        if cap_year != year:
            problems.append(f"{asset_id}: deduction at {world.clock.iso(t)} counted in {cap_year}")
        per_year[(asset_id, year)] += int(amount)
        region_of[asset_id] = region
    for (asset_id, year), amount in sorted(per_year.items()):
        cap = world.cap_fen(region_of[asset_id])
        if cap is not None and amount > cap:
            problems.append(
                f"{asset_id}: {amount} fen deducted in {year}, cap {cap} ({region_of[asset_id]})"
            )

    # 4. deductions against freezes in force
    problems += _deductions_in_force(conn)

    # 5. recovered within claims; deductions match the journal
    for case_id, claim in conn.execute(select(cases.c.case_id, cases.c.claim_fen)):
        got = actual.get(court_account(case_id), 0)
        if got > claim:
            problems.append(f"case {case_id}: recovered {got} fen > claim {claim}")
    moved = dict(
        conn.execute(
            select(journal.c.control_id, func.sum(journal.c.amount_fen))
            .where(journal.c.control_id.is_not(None))
            .group_by(journal.c.control_id)
        ).all()
    )
    for control_id, outcome, amount in conn.execute(
        select(controls.c.control_id, controls.c.outcome, controls.c.amount_fen)
    ):
        if outcome in ("frozen", "deducted") and moved.get(control_id) != amount:
            problems.append(
                f"control {control_id} ({outcome} {amount}): journal moved {moved.get(control_id)}"
            )
        elif outcome not in ("frozen", "deducted", "unfrozen") and control_id in moved:
            problems.append(f"control {control_id} ({outcome}) moved money")

    return {
        "ok": not problems,
        "initial_total_fen": world.initial_total_fen,
        "debtor_fen": totals["debtor"],
        "frozen_fen": totals["frozen"],
        "court_fen": totals["court"],
        "controls": conn.execute(select(func.count()).select_from(controls)).scalar_one(),
        "problem_count": len(problems),
        "problems": problems[:MAX_LISTED],
    }


def _deductions_in_force(conn: Connection) -> list[str]:
    problems: list[str] = []
    by_freeze: dict[int, list[Any]] = defaultdict(list)
    for c in conn.execute(
        select(controls)
        .where(controls.c.outcome.in_(("frozen", "renewed", "unfrozen", "deducted")))
        .order_by(controls.c.control_id)
    ):
        if c.freeze_id is None:
            problems.append(f"control {c.control_id} ({c.outcome}) names no freeze")
            continue
        by_freeze[c.freeze_id].append(c)
    frozen = {f.freeze_id: f for f in conn.execute(select(freezes))}
    for freeze_id, history in by_freeze.items():
        f = frozen.get(freeze_id)
        if f is None:
            problems.append(f"freeze {freeze_id} does not exist")
            continue
        expiry: float | None = None
        released = False
        for c in history:
            if c.case_id != f.case_id or c.asset_id != f.asset_id:
                problems.append(f"control {c.control_id} acts on another case's freeze")
            if c.outcome in ("frozen", "renewed"):
                expiry = c.freeze_expires_sim
            elif c.outcome == "unfrozen":
                released = True
            elif c.outcome == "deducted":
                if expiry is None or released:
                    problems.append(f"deduction {c.control_id}: freeze {freeze_id} not in force")
                elif c.sim_time >= expiry:
                    problems.append(f"deduction {c.control_id}: freeze {freeze_id} had expired")
                elif f.status == "lapsed" and f.ended_sim is not None and c.sim_time >= f.ended_sim:
                    problems.append(f"deduction {c.control_id}: freeze {freeze_id} had lapsed")
    return problems
