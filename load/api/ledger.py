"""Money moves only as balanced double entries between accounts, each naming its cause.

Every fen lives in one account (:mod:`load.api.schema`): an asset's free balance
(``debtor:ASSET``), a freeze's hold (``frozen:FREEZE``), a control's money while an agency
processes it (``pending:CONTROL``), a case's court account (``court:CASE``), or what another
authority took ahead of a waiting freeze (``other:ASSET``). :func:`move` takes money out of
one account and puts it into another in one statement (both rows or none; accounts never go
negative, by a CHECK constraint as well as the statement) and writes one journal entry
naming the event that moved it and the control or freeze it belongs to
(:class:`Cause`), so :mod:`load.api.reconcile` can check every entry against its cause.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection

from load.api.sql import Stmt, Tx, tx_of

# the events that move money (the journal's ``event``)
EVENTS = ("control", "reserve", "settle", "refund", "release", "lapse", "take_effect", "other")


class LedgerError(Exception):
    """An account would go negative or does not exist: a bug, never a user's doing."""


def debtor_account(asset_id: str) -> str:
    return f"debtor:{asset_id}"


def frozen_account(freeze_id: int) -> str:
    return f"frozen:{freeze_id}"


def pending_account(control_id: int) -> str:
    return f"pending:{control_id}"


def court_account(case_id: int) -> str:
    return f"court:{case_id}"


def other_account(asset_id: str) -> str:
    return f"other:{asset_id}"


class Cause(NamedTuple):
    """Why money moved: the event, the case it belongs to, and its control or freeze."""

    event: str
    case_id: int
    control_id: int | None = None
    freeze_id: int | None = None


_BALANCE = Stmt("SELECT balance_fen FROM accounts WHERE account_id = ?")
_OPEN = Stmt("INSERT INTO accounts (account_id, kind, case_id, balance_fen) VALUES (?, ?, ?, 0)")
_ENSURE = Stmt(
    "INSERT INTO accounts (account_id, kind, case_id, balance_fen) VALUES (?, ?, ?, 0)"
    " ON CONFLICT (account_id) DO NOTHING"
)
# both sides of a move in one statement: the debit only if it can pay (two rows, or none move)
_MOVE = Stmt(
    """UPDATE accounts SET balance_fen = balance_fen + CASE WHEN account_id = ? THEN -? ELSE ? END
       WHERE (account_id = ? AND balance_fen >= ?) OR account_id = ?"""
)
_ENTRY = Stmt(
    """INSERT INTO journal (event, control_id, freeze_id, case_id, debit_account,
                            credit_account, amount_fen, sim_time)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
)
# the money a case has committed: recovered, held by its freezes, on its way
_COMMITTED = Stmt(
    "SELECT kind, COALESCE(SUM(balance_fen), 0) FROM accounts WHERE case_id = ? GROUP BY kind"
)


def balance(conn: Connection | Tx, account_id: str) -> int:
    value = tx_of(conn).value(_BALANCE, (account_id,))
    if value is None:
        raise LedgerError(f"account {account_id} does not exist")
    return int(value)


def balance_or_zero(conn: Connection | Tx, account_id: str) -> int:
    """The balance, 0 for an account never opened."""
    value = tx_of(conn).value(_BALANCE, (account_id,))
    return 0 if value is None else int(value)


def open_account(conn: Connection | Tx, account_id: str, kind: str, case_id: int | None) -> None:
    tx_of(conn).run(_OPEN, (account_id, kind, case_id))


def ensure_account(conn: Connection | Tx, account_id: str, kind: str) -> None:
    """Open an account of no case unless it is open already."""
    tx_of(conn).run(_ENSURE, (account_id, kind, None))


def committed(conn: Connection | Tx, case_id: int) -> dict[str, int]:
    """The case's money by kind of account: ``court`` (recovered), ``frozen``, ``pending``."""
    out = {"court": 0, "frozen": 0, "pending": 0}
    for kind, amount in tx_of(conn).all(_COMMITTED, (case_id,)):
        out[kind] = int(amount)
    return out


def move(
    conn: Connection | Tx, cause: Cause, debit: str, credit: str, amount: int, t: float
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
    row = (cause.event, cause.control_id, cause.freeze_id, cause.case_id, debit, credit, amount, t)
    tx.run(_ENTRY, row)
