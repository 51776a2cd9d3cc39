"""Money moves only as balanced double entries between accounts.

Every fen lives in one account: an asset's free balance (``debtor:ASSET``), a freeze's hold
(``frozen:FREEZE``) or a case's court account (``court:CASE``). :func:`move` takes money out
of one account and puts it into another, writing one journal entry; accounts may not go
negative (a CHECK constraint as well as the code). So money is never created or lost, and
:mod:`load.api.reconcile` can prove it from the journal.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select, update

from load.api.db import accounts, journal


class LedgerError(Exception):
    """An account would go negative or does not exist: a bug, never a user's doing."""


def debtor_account(asset_id: str) -> str:
    return f"debtor:{asset_id}"


def frozen_account(freeze_id: int) -> str:
    return f"frozen:{freeze_id}"


def court_account(case_id: int) -> str:
    return f"court:{case_id}"


# Statements built once (bound parameters): SQLAlchemy then reuses their compiled form.
_BALANCE = select(accounts.c.balance_fen).where(accounts.c.account_id == bindparam("account"))
_OPEN = insert(accounts)
_TAKE = (
    update(accounts)
    .where(
        accounts.c.account_id == bindparam("account"),
        accounts.c.balance_fen >= bindparam("amount"),
    )
    .values(balance_fen=accounts.c.balance_fen - bindparam("amount"))
)
_GIVE = (
    update(accounts)
    .where(accounts.c.account_id == bindparam("account"))
    .values(balance_fen=accounts.c.balance_fen + bindparam("amount"))
)
_ENTRY = insert(journal)


def balance(conn: Connection, account_id: str) -> int:
    return conn.execute(_BALANCE, {"account": account_id}).scalar_one()


def open_account(conn: Connection, account_id: str, kind: str) -> None:
    conn.execute(_OPEN, {"account_id": account_id, "kind": kind, "balance_fen": 0})


def move(
    conn: Connection, control_id: int | None, debit: str, credit: str, amount: int, t: float
) -> None:
    """Move ``amount`` fen from account ``debit`` to account ``credit``: one journal entry."""
    if amount <= 0:
        raise LedgerError(f"a move needs a positive amount, got {amount}")
    if conn.execute(_TAKE, {"account": debit, "amount": amount}).rowcount != 1:
        raise LedgerError(f"account {debit} cannot pay {amount} fen")
    if conn.execute(_GIVE, {"account": credit, "amount": amount}).rowcount != 1:
        raise LedgerError(f"account {credit} does not exist")
    conn.execute(
        _ENTRY,
        {
            "control_id": control_id,
            "debit_account": debit,
            "credit_account": credit,
            "amount_fen": amount,
            "sim_time": t,
        },
    )
