"""Hot statements straight on the DBAPI cursor (sqlite3 or psycopg 3), one code path for both.

SQLAlchemy's execution layer costs about 30 µs a statement (compiled-cache lookup, events,
result objects), more than SQLite takes to run most of these statements. The requests a
load test sends most (a query's answers, a control) therefore run their statements on the
DBAPI connection underneath the SQLAlchemy connection, inside the same transaction:
SQLAlchemy still owns the engine, the pool, the DDL, the transaction (``BEGIN IMMEDIATE``,
commit, rollback, retries: :mod:`load.api.db`) and every statement off the hot paths.

A :class:`Stmt` is written once with ``?`` placeholders and rendered for psycopg
(``%s``) when defined, so both databases run the same text; sqlite3 caches prepared
statements by text, psycopg prepares a statement on the server after a few executions.
Rows come back as named tuples with the columns the statement names. Row locks
(``FOR UPDATE``) are added on PostgreSQL only, as SQLAlchemy's ``with_for_update`` does.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from sqlalchemy import Connection


class Stmt:
    """One SQL statement, its text for each paramstyle and the names of its result columns."""

    __slots__ = ("pg", "row", "sqlite")

    def __init__(self, sql: str, columns: str = "", lock: str = "") -> None:
        if "%" in sql:
            raise ValueError("no % in statements: psycopg would read it as a placeholder")
        self.sqlite = " ".join(sql.split())
        # ``lock`` (e.g. "FOR UPDATE") only on PostgreSQL: SQLite has no row locks, its
        # write transactions (BEGIN IMMEDIATE) are serial already
        self.pg = " ".join([self.sqlite.replace("?", "%s"), lock]).strip()
        self.row: Any = namedtuple("Row", columns) if columns else None


class Tx:
    """A cursor of a DBAPI connection, in a transaction: one of a SQLAlchemy connection, or
    one :meth:`load.api.db.Database.read_tx` / ``write_tx`` began without SQLAlchemy."""

    __slots__ = ("cur", "dbapi", "pg")

    def __init__(self, dbapi: Any, pg: bool) -> None:
        self.dbapi = dbapi
        self.pg = pg
        self.cur: Any = dbapi.cursor()

    def run(self, stmt: Stmt, params: tuple[Any, ...] = ()) -> int:
        """Execute; the number of rows it changed."""
        cur = self.cur
        cur.execute(stmt.pg if self.pg else stmt.sqlite, params)
        return int(cur.rowcount)

    def one(self, stmt: Stmt, params: tuple[Any, ...] = ()) -> Any:
        """The first row (a named tuple), or None."""
        cur = self.cur
        cur.execute(stmt.pg if self.pg else stmt.sqlite, params)
        row = cur.fetchone()
        if row is None:
            return None
        return stmt.row._make(row) if stmt.row is not None else row

    def all(self, stmt: Stmt, params: tuple[Any, ...] = ()) -> list[Any]:
        cur = self.cur
        cur.execute(stmt.pg if self.pg else stmt.sqlite, params)
        rows = cur.fetchall()
        make = stmt.row._make if stmt.row is not None else tuple
        return [make(r) for r in rows]

    def value(self, stmt: Stmt, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the first row (None if there is no row)."""
        cur = self.cur
        cur.execute(stmt.pg if self.pg else stmt.sqlite, params)
        row = cur.fetchone()
        return None if row is None else row[0]


def tx_of(conn: Connection | Tx) -> Tx:
    """The hot-path cursor of ``conn`` (a SQLAlchemy connection, or already a :class:`Tx`)."""
    if isinstance(conn, Tx):
        return conn
    return pooled_tx(conn.connection, conn.dialect.name == "postgresql")


def pooled_tx(pooled: Any, pg: bool) -> Tx:
    """The :class:`Tx` of a pooled connection (SQLAlchemy's pool proxy): one cursor per
    DBAPI connection, made again if the pool replaced the connection."""
    tx: Tx | None = pooled.info.get("chakong_tx")
    if tx is None or tx.dbapi is not pooled.driver_connection:
        tx = pooled.info["chakong_tx"] = Tx(pooled.driver_connection, pg)
    return tx
