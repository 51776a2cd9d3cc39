"""The database: the engine for SQLite or PostgreSQL, and transactions that cannot race.

One code path serves both databases (SQLAlchemy 2 Core; psycopg 3 for PostgreSQL). The
database is the single source of truth: every uvicorn worker reads and writes it, and none
keeps state of its own beyond a cache of the (immutable) courts.

Write transactions cannot race:

- SQLite (WAL): every write transaction starts with ``BEGIN IMMEDIATE``, which takes the
  database's write lock at once, so a transaction's reads and its writes see no other
  writer in between; waiting writers queue on ``busy_timeout``. Reads use a deferred
  ``BEGIN`` and never block (WAL).
- PostgreSQL (READ COMMITTED): a write locks what it decides on before reading it
  (``SELECT ... FOR UPDATE`` of the case and asset rows, a transaction-scoped advisory lock
  on an idempotency key, the head rows of the audit chains it appends to, last and in
  order). In READ COMMITTED each statement sees what was committed before it began, so a
  read made after the lock is granted sees the previous holder's writes. Serialisation
  failures and deadlocks are retried.

The tables are in :mod:`load.api.schema`; SQLite's pragmas and checkpoints in
:mod:`load.api.sqlite`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, create_engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from load.api.schema import metadata
from load.api.sql import Tx, pooled_tx
from load.api.sqlite import Checkpointer, locked, pragmas, sqlite_engine
from sim.errors import UserError

T = TypeVar("T")

# ---------------------------------------------------------------- engines

RETRY_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


class DatabaseBusy(Exception):
    """The database stayed locked or conflicting after every retry (HTTP 503)."""


def normalise_url(url: str) -> str:
    """``postgresql://`` (and ``postgres://``) mean psycopg 3; ``sqlite:///`` the stdlib."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_url(url: str) -> str:
    """The SQLAlchemy URL for ``--db``, or a UserError naming the problem."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise UserError(
            f"--db: cannot parse '{url}' (use sqlite:///FILE or postgresql://...)"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UserError(
            f"--db: '{parsed.get_backend_name()}' is not supported (sqlite or postgresql)"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise UserError("--db: SQLite needs a file (sqlite:///FILE); workers share it")
    return parsed.render_as_string(hide_password=False)


class Database:
    """An engine and the two kinds of transaction: read, and write (cannot race)."""

    def __init__(self, url: str, pool_size: int = 16) -> None:
        self.url = check_url(url)
        self.backend = make_url(self.url).get_backend_name()
        self._checkpointer: Checkpointer | None = None
        if self.backend == "sqlite":
            self.engine = sqlite_engine(self.url, pool_size)
            # One writer at a time in this process: the others wait on a lock that wakes
            # them at once, not in SQLite's busy handler, which sleeps in steps of up to
            # 100 ms. Other processes (workers) still queue on BEGIN IMMEDIATE.
            self._lock = threading.Lock()
            self._writer: AbstractContextManager[Any] = self._lock
            self._checkpointer = Checkpointer(make_url(self.url).database or "", self._writer)
            self._loop_tx: Tx | None = None  # see write_async
            self.writers = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        else:
            self._writer = contextlib.nullcontext()
            self._loop_tx = None
            # at most 10 connections a worker: PostgreSQL allows 100 by default, and
            # --workers 4 plus the load test's own checks must fit
            self.engine = create_engine(
                self.url,
                pool_size=min(pool_size, 8),
                max_overflow=2,
                pool_pre_ping=False,
                pool_reset_on_return=None,  # every transaction ends in commit or rollback
            )
            self.writers = ThreadPoolExecutor(10, thread_name_prefix="pg-writer")
        self._loop_reader: Any = None  # see read_tx

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a read transaction (one consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            return fn(conn)

    def snapshot(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on one consistent snapshot across statements (PostgreSQL: REPEATABLE
        READ; a SQLite read transaction already is one)."""
        with self.engine.connect() as conn:
            if self.is_postgres:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return fn(conn)

    def read_tx(self, fn: Callable[[Tx], T]) -> T:
        """:meth:`read` straight on the DBAPI connection (the hot reads: load.api.sql).

        On the event loop, on a connection the loop keeps for its reads (they never overlap
        there: nothing in them awaits), sparing the pool's check-out and check-in."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a thread: a connection from the pool
            with self._raw(write=False) as tx:
                return fn(tx)
        if self._loop_reader is None:
            self._loop_reader = self.engine.raw_connection()  # kept until dispose
        tx = pooled_tx(self._loop_reader, self.is_postgres)
        if not tx.pg:
            tx.dbapi.execute("BEGIN")
        try:
            result = fn(tx)
        except BaseException:
            tx.dbapi.rollback()
            raise
        tx.dbapi.commit()
        return result

    async def write_async(self, fn: Callable[[Tx], T]) -> T:
        """:meth:`write_tx` from the event loop.

        SQLite: on the event loop itself when that waits for nothing: this process's write
        lock is free and ``BEGIN IMMEDIATE`` gets SQLite's at once (a connection of its own
        with no busy timeout). A short write then costs no thread hand-over (about 100 µs
        of CPU, more than the transaction), and blocks the loop no longer than its own CPU
        time: in WAL nothing after ``BEGIN IMMEDIATE`` waits, commits do not sync
        (synchronous=NORMAL) and checkpoints run in their own thread. While a thread of
        this process holds the write lock (the checkpointer restarting the WAL, a write
        waiting for another process), the loop waits for it, sleeping, rather than queue
        behind it in a thread: a queue there would keep the lock taken and every later write
        off the loop. When another process holds SQLite's lock, and always on PostgreSQL
        (network round trips, row locks), the write waits in this database's writer
        threads: one for SQLite, one per pooled connection for PostgreSQL."""
        if not self.is_postgres:
            pause = 0.0002
            while not self._lock.acquire(blocking=False):
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.004)
            try:
                done, result = self._write_now(fn)
            finally:
                self._lock.release()
            if done:
                return cast(T, result)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.writers, self.write_tx, fn)

    def _write_now(self, fn: Callable[[Tx], T]) -> tuple[bool, Any]:
        """(True, fn's result) if SQLite's write lock was free; (False, None) if it was not."""
        if self._loop_tx is None:
            path = make_url(self.url).database or ""
            conn = sqlite3.connect(path, check_same_thread=False)
            pragmas(conn, 0)  # never wait: the caller is the event loop
            self._loop_tx = Tx(conn, pg=False)
        dbapi = self._loop_tx.dbapi
        try:
            dbapi.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if locked(exc):
                return False, None
            raise
        try:
            result = fn(self._loop_tx)
        except BaseException as exc:
            dbapi.rollback()
            if isinstance(exc, sqlite3.OperationalError) and locked(exc):
                raise DatabaseBusy(str(exc)) from exc
            raise
        dbapi.commit()
        return True, result

    def write(self, fn: Callable[[Connection], T], attempts: int = 8) -> T:
        """Run ``fn`` in a write transaction that cannot race; retried on conflicts."""

        def once() -> T:
            with self._writer, self.engine.connect() as conn:
                conn.execution_options(chakong_write=True)
                with conn.begin():
                    return fn(conn)

        return self._retried(once, attempts)

    def write_tx(self, fn: Callable[[Tx], T], attempts: int = 8) -> T:
        """:meth:`write` straight on the DBAPI connection: the same transaction (the same
        ``BEGIN IMMEDIATE``, writer lock and retries), without SQLAlchemy's ~100 µs of
        connection, begin and commit plumbing; ``fn`` gets a :class:`load.api.sql.Tx`."""

        def once() -> T:
            with self._writer, self._raw(write=True) as tx:
                return fn(tx)

        return self._retried(once, attempts)

    def _retried(self, once: Callable[[], T], attempts: int) -> T:
        for attempt in range(attempts):
            try:
                return once()
            except Exception as exc:
                orig = exc.orig if isinstance(exc, DBAPIError) else exc
                if locked(orig):  # SQLite waited busy_timeout for the write lock
                    raise DatabaseBusy(str(orig)) from exc
                if getattr(orig, "sqlstate", None) not in RETRY_SQLSTATES:
                    raise
                if attempt == attempts - 1:
                    raise DatabaseBusy(str(orig)) from exc
                time.sleep(0.002 * (2**attempt))
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _raw(self, write: bool) -> Iterator[Tx]:
        """A transaction on a pooled DBAPI connection: SQLite begins it as the SQLAlchemy
        connections do (``BEGIN IMMEDIATE`` to write); psycopg begins one implicitly."""
        pooled = self.engine.raw_connection()
        try:
            tx = pooled_tx(pooled, self.is_postgres)
            if not tx.pg:
                tx.dbapi.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield tx
            except BaseException:
                tx.dbapi.rollback()
                raise
            tx.dbapi.commit()
        finally:
            pooled.close()  # back to the pool

    def create(self) -> None:
        """Drop and create every table: a fresh world (every chakong table of an earlier
        version too)."""
        with self.engine.begin() as conn:
            names = set(inspect(conn).get_table_names())
            old = [t for t in ("audit_head",) if t in names]  # tables of earlier versions
            for name in old:
                conn.exec_driver_sql(f"DROP TABLE {name}")
            metadata.drop_all(conn)
            metadata.create_all(conn)

    def stored_version(self) -> int | None:
        """The version of the chakong tables here: None if there are none (an empty
        database), 1 for the first layout (which kept no version)."""
        with self.engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            if "meta" not in names:
                return None
            meta = metadata.tables["meta"]
            row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
            return 1 if row is None else int(row[0])

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.writers.shutdown(wait=True)
        if self._loop_tx is not None:
            self._loop_tx.dbapi.close()
        if self._loop_reader is not None:
            self._loop_reader.close()
        self.engine.dispose()
