"""Reconciliation: prove from the records that no money was created, lost, taken twice or
moved without a cause.

Checks, each independent of the code that moved the money:

1. money is conserved to the fen: every account together holds the initial total of the
   debtors' assets;
2. per account: its balance is its opening balance plus what the journal moved in and out
   (no money moved outside the journal), never negative; per case: its accounts hold what
   the journal moved into them from outside the case, and no entry moves money between two
   cases;
3. every journal entry, one by one, against its cause: a control's move matches the
   control (its action, outcome, amount, accounts), an agency's settlement or refund
   matches the control it carries out, a lapse matches a freeze that lapsed then, a waiting
   freeze taking effect matches the freeze, another authority's hold matches a freeze that
   waited behind it; each cause moves money at most as often as it can;
4. no provident-fund asset gave more than its region's annual cap in any calendar year
   (summed from the deductions themselves, not from the running counter);
5. no deduction was made against a freeze not in force then;
6. no case recovered more than its claim, and no case's freezes hold more than its claim
   allows (``[api] over_freeze_share`` over it when courts over-freeze).

Money still with an agency is in ``pending`` accounts and counts everywhere as money.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import Connection, select

from load.api.schema import accounts, assets, cases, controls, debtors, freezes, journal
from load.api.world import World

MAX_LISTED = 20  # problems listed in the answer (the count is always complete)
ONCE = {"control": 1, "reserve": 1, "settle": 1, "refund": 1, "release": 1}


class Problems:
    def __init__(self) -> None:
        self.listed: list[str] = []
        self.count = 0

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append(text)


def reconcile(conn: Connection, world: World) -> dict[str, Any]:
    problems = Problems()
    actual = {r.account_id: r for r in conn.execute(select(accounts))}
    totals: dict[str, int] = defaultdict(int)
    for r in actual.values():
        totals[r.kind] += int(r.balance_fen)
    total = sum(totals.values())
    if total != world.initial_total_fen:
        problems.add(
            f"money not conserved: {total} fen in accounts, {world.initial_total_fen} at start"
        )
    entries = list(conn.execute(select(journal).order_by(journal.c.entry_id)))
    _balances(conn, actual, entries, problems)
    the_controls = {c.control_id: c for c in conn.execute(select(controls))}
    the_freezes = {f.freeze_id: f for f in conn.execute(select(freezes))}
    _causes(entries, the_controls, the_freezes, problems)
    _caps(conn, world, the_controls, problems)
    _deductions_in_force(the_controls, the_freezes, problems)
    _claims(conn, world, actual, the_controls, problems)
    return {
        "ok": problems.count == 0,
        "initial_total_fen": world.initial_total_fen,
        "debtor_fen": totals["debtor"],
        "frozen_fen": totals["frozen"],
        "pending_fen": totals["pending"],
        "court_fen": totals["court"],
        "other_fen": totals["other"],
        "controls": len(the_controls),
        "journal_entries": len(entries),
        "problem_count": problems.count,
        "problems": problems.listed,
    }


def _owner(account: str, the_controls: dict[int, Any], the_freezes: dict[int, Any]) -> Any:
    """The case an account belongs to (None: a debtor's or another authority's)."""
    kind, _, ident = account.partition(":")
    if kind == "court" and ident.isdigit():
        return int(ident)
    if kind == "frozen" and ident.isdigit() and int(ident) in the_freezes:
        return the_freezes[int(ident)].case_id
    if kind == "pending" and ident.isdigit() and int(ident) in the_controls:
        return the_controls[int(ident)].case_id
    return None


def _balances(conn: Connection, actual: dict[str, Any], entries: list[Any], p: Problems) -> None:
    expected: dict[str, int] = defaultdict(int)
    for asset_id, initial in conn.execute(select(assets.c.asset_id, assets.c.initial_fen)):
        expected[f"debtor:{asset_id}"] += initial
    per_case_in: dict[int, int] = defaultdict(int)
    for e in entries:
        expected[e.debit_account] -= e.amount_fen
        expected[e.credit_account] += e.amount_fen
    for account in sorted(set(expected) | set(actual)):
        if account not in actual:
            p.add(f"journal moves money through unknown account {account}")
        elif actual[account].balance_fen != expected.get(account, 0):
            p.add(
                f"{account}: balance {actual[account].balance_fen} fen, journal says "
                f"{expected.get(account, 0)}"
            )
        elif actual[account].balance_fen < 0:
            p.add(f"{account}: negative balance {actual[account].balance_fen} fen")
    # per case: what its accounts hold is what the journal moved into the case
    held: dict[int, int] = defaultdict(int)
    for r in actual.values():
        if r.case_id is not None:
            held[int(r.case_id)] += int(r.balance_fen)
    owner = {a: r.case_id for a, r in actual.items()}
    for e in entries:
        src, dst = owner.get(e.debit_account), owner.get(e.credit_account)
        if src is not None and dst is not None and src != dst:
            p.add(f"journal entry {e.entry_id} moves money from case {src} to case {dst}")
        if dst is not None and src != dst:
            per_case_in[int(dst)] += e.amount_fen
        if src is not None and src != dst:
            per_case_in[int(src)] -= e.amount_fen
    for case_id in sorted(set(held) | set(per_case_in)):
        if held.get(case_id, 0) != per_case_in.get(case_id, 0):
            p.add(
                f"case {case_id}: its accounts hold {held.get(case_id, 0)} fen, the journal "
                f"moved {per_case_in.get(case_id, 0)} into it"
            )


def _expected_move(e: Any, c: Any) -> tuple[str, str] | None:
    """The accounts a control's entry of ``e.event`` must move between (None: it may not)."""
    debtor = f"debtor:{c.asset_id}"
    frozen = f"frozen:{c.freeze_id}"
    pending = f"pending:{c.control_id}"
    if e.event == "control":
        return {
            "frozen": (debtor, frozen),
            "unfrozen": (frozen, debtor),
            "deducted": (frozen, f"court:{c.case_id}"),
        }.get(c.outcome)
    if e.event == "reserve":
        return {"freeze": (debtor, pending), "deduct": (frozen, pending)}.get(c.action)
    if e.event == "settle":
        return {"freeze": (pending, frozen), "deduct": (pending, f"court:{c.case_id}")}.get(
            c.action
        )
    if e.event == "refund":
        if c.action == "freeze":
            return (pending, debtor)
        if c.action == "deduct":
            return (pending, e.credit_account if e.credit_account in (frozen, debtor) else frozen)
    if e.event == "release" and c.action == "unfreeze":
        return (frozen, debtor)
    return None


def _causes(
    entries: list[Any], the_controls: dict[int, Any], the_freezes: dict[int, Any], p: Problems
) -> None:
    seen: Counter[tuple[str, int]] = Counter()
    for e in entries:
        name = f"journal entry {e.entry_id} ({e.event})"
        if e.event not in ONCE and e.event not in ("lapse", "take_effect", "other"):
            p.add(f"{name}: no such cause")
            continue
        if e.event in ONCE:
            c = the_controls.get(e.control_id)
            if c is None:
                p.add(f"{name}: names no control")
                continue
            seen[(e.event, c.control_id)] += 1
            if seen[(e.event, c.control_id)] > ONCE[e.event]:
                p.add(f"{name}: control {c.control_id} moved money twice")
            want = _expected_move(e, c)
            if want is None:
                p.add(f"{name}: control {c.control_id} ({c.action}, {c.outcome}) moves no money")
            elif (e.debit_account, e.credit_account) != want:
                p.add(
                    f"{name}: {e.debit_account} -> {e.credit_account}, control "
                    f"{c.control_id} ({c.action}) moves {want[0]} -> {want[1]}"
                )
            if e.case_id != c.case_id:
                p.add(f"{name}: booked to case {e.case_id}, its control is case {c.case_id}'s")
            if e.event in ("control", "settle", "release") and c.amount_fen != e.amount_fen:
                p.add(
                    f"{name}: moved {e.amount_fen} fen, control {c.control_id} says {c.amount_fen}"
                )
            if e.event in ("settle", "refund", "release") and not c.acted:
                p.add(f"{name}: control {c.control_id} has not been carried out")
            continue
        f = the_freezes.get(e.freeze_id)
        if f is None:
            p.add(f"{name}: names no freeze")
            continue
        if e.case_id != f.case_id:
            p.add(f"{name}: booked to case {e.case_id}, its freeze is case {f.case_id}'s")
        debtor, frozen, other = (
            f"debtor:{f.asset_id}",
            f"frozen:{f.freeze_id}",
            f"other:{f.asset_id}",
        )
        seen[(e.event, f.freeze_id)] += 1
        if e.event == "lapse":
            ok = (e.debit_account, e.credit_account) == (frozen, debtor)
            if not ok or f.status != "lapsed" or f.ended_sim != e.sim_time:
                p.add(f"{name}: freeze {f.freeze_id} did not lapse then, or not this way")
            if seen[(e.event, f.freeze_id)] > 1:
                p.add(f"{name}: freeze {f.freeze_id} lapsed twice")
        elif e.event == "take_effect":
            ok = (e.debit_account, e.credit_account) == (debtor, frozen)
            if not ok or f.effective_sim != e.sim_time or e.control_id != f.control_id:
                p.add(f"{name}: freeze {f.freeze_id} did not take effect then, or not this way")
            if seen[(e.event, f.freeze_id)] > 1:
                p.add(f"{name}: freeze {f.freeze_id} took effect twice")
        else:  # another authority held the asset ahead of a waiting freeze, then left a share
            pair = (e.debit_account, e.credit_account)
            if f.external_share is None or pair not in ((debtor, other), (other, debtor)):
                p.add(f"{name}: freeze {f.freeze_id} never waited behind another authority")
            if seen[(e.event, f.freeze_id)] > 2:
                p.add(f"{name}: another authority moved money three times for one freeze")


def _done_deductions(the_controls: dict[int, Any]) -> list[Any]:
    return [c for c in the_controls.values() if c.action == "deduct" and c.outcome == "deducted"]


def _caps(conn: Connection, world: World, the_controls: dict[int, Any], p: Problems) -> None:
    """Provident-fund caps, per asset and calendar year (each deduction's year)."""
    funds = dict(
        conn.execute(
            select(assets.c.asset_id, debtors.c.region)
            .join(debtors, debtors.c.debtor_id == assets.c.debtor_id)
            .where(assets.c.asset_type == "provident_fund")
        ).all()
    )
    per_year: dict[tuple[str, int], int] = defaultdict(int)
    for c in _done_deductions(the_controls):
        if c.asset_id not in funds:
            continue
        year = world.clock.year_of(c.sim_time)
        if c.cap_year != year:
            p.add(
                f"{c.asset_id}: deduction at {world.clock.iso(c.sim_time)} counted in {c.cap_year}"
            )
        per_year[(c.asset_id, year)] += int(c.amount_fen)
    for (asset_id, year), amount in sorted(per_year.items()):
        cap = world.cap_fen(funds[asset_id])
        if cap is not None and amount > cap:
            p.add(f"{asset_id}: {amount} fen deducted in {year}, cap {cap} ({funds[asset_id]})")


def _deductions_in_force(
    the_controls: dict[int, Any], the_freezes: dict[int, Any], p: Problems
) -> None:
    for c in _done_deductions(the_controls):
        f = the_freezes.get(c.freeze_id)
        if f is None:
            p.add(f"deduction {c.control_id} names no freeze")
        elif f.case_id != c.case_id or f.asset_id != c.asset_id:
            p.add(f"deduction {c.control_id} acts on another case's freeze")
        elif f.effective_sim is None or f.effective_sim > c.sim_time:
            p.add(f"deduction {c.control_id}: freeze {f.freeze_id} did not hold yet")
        elif c.freeze_expires_sim is not None and c.sim_time >= c.freeze_expires_sim:
            p.add(f"deduction {c.control_id}: freeze {f.freeze_id} had expired")
        elif f.ended_sim is not None and f.ended_sim <= c.sim_time:
            p.add(f"deduction {c.control_id}: freeze {f.freeze_id} had ended")


def _claims(
    conn: Connection,
    world: World,
    actual: dict[str, Any],
    the_controls: dict[int, Any],
    p: Problems,
) -> None:
    money: dict[int, Counter[str]] = defaultdict(Counter)
    for r in actual.values():
        if r.case_id is not None:
            money[int(r.case_id)][r.kind] += int(r.balance_fen)
    deducting: Counter[int] = Counter()
    for c in the_controls.values():
        if c.action == "deduct":
            pending = actual.get(f"pending:{c.control_id}")
            if pending is not None:
                deducting[c.case_id] += int(pending.balance_fen)
    for case_id, claim in conn.execute(select(cases.c.case_id, cases.c.claim_fen)):
        m = money[case_id]
        if m["court"] + deducting[case_id] > claim:
            on_the_way = deducting[case_id]
            p.add(f"case {case_id}: recovered {m['court']} fen (+{on_the_way}) > claim {claim}")
        limit = world.commit_limit(claim)
        if sum(m.values()) > limit:
            p.add(
                f"case {case_id}: {m['court']} recovered, {m['frozen']} held and "
                f"{m['pending']} on its way: more than {limit} fen (claim {claim})"
            )
