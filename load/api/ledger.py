"""Money moves only as balanced double entries between accounts.

Every fen lives in one account: an asset's free balance (``debtor:ASSET``), a freeze's hold
(``frozen:FREEZE``) or a case's court account (``court:CASE``). :func:`move` takes money out
of one account and puts it into another, writing one journal entry; accounts may not go
negative (a CHECK constraint as well as the code). So money is never created or lost, and
:mod:`load.api.reconcile` can prove it from the journal.
"""

from __future__ import annotations

from sqlalchemy import Connection

from load.api.sql import Stmt, Tx, tx_of


class LedgerError(Exception):
    """An account would go negative or does not exist: a bug, never a user's doing."""


def debtor_account(asset_id: str) -> str:
    return f"debtor:{asset_id}"


def frozen_account(freeze_id: int) -> str:
    return f"frozen:{freeze_id}"


def court_account(case_id: int) -> str:
    return f"court:{case_id}"


_BALANCE = Stmt("SELECT balance_fen FROM accounts WHERE account_id = ?")
_OPEN = Stmt("INSERT INTO accounts (account_id, kind, balance_fen) VALUES (?, ?, 0)")
# both sides of a move in one statement: the debit only if it can pay (two rows, or none move)
_MOVE = Stmt(
    """UPDATE accounts SET balance_fen = balance_fen + CASE WHEN account_id = ? THEN -? ELSE ? END
       WHERE (account_id = ? AND balance_fen >= ?) OR account_id = ?"""
)
_ENTRY = Stmt(
    "INSERT INTO journal (control_id, debit_account, credit_account, amount_fen, sim_time)"
    " VALUES (?, ?, ?, ?, ?)"
)


def balance(conn: Connection | Tx, account_id: str) -> int:
    value = tx_of(conn).value(_BALANCE, (account_id,))
    if value is None:
        raise LedgerError(f"account {account_id} does not exist")
    return int(value)


def open_account(conn: Connection | Tx, account_id: str, kind: str) -> None:
    tx_of(conn).run(_OPEN, (account_id, kind))


def move(
    conn: Connection | Tx, control_id: int | None, debit: str, credit: str, amount: int, t: float
) -> None:
    """Move ``amount`` fen from account ``debit`` to account ``credit``: one journal entry."""
    if amount <= 0:
        raise LedgerError(f"a move needs a positive amount, got {amount}")
    if debit == credit:
        raise LedgerError(f"a move needs two accounts, got {debit} twice")
    tx = tx_of(conn)
    if tx.run(_MOVE, (debit, amount, amount, debit, amount, credit)) != 2:
        # the transaction is rolled back: nothing moved
        raise LedgerError(f"account {debit} cannot pay {amount} fen, or {credit} does not exist")
    tx.run(_ENTRY, (control_id, debit, credit, amount, t))
