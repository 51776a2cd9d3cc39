"""The database: tables, the engine for SQLite or PostgreSQL, and transactions that cannot race.

One code path serves both databases (SQLAlchemy 2 Core; psycopg 3 for PostgreSQL). The
database is the single source of truth: every uvicorn worker reads and writes it, and none
keeps state of its own beyond a cache of the (immutable) courts.

Write transactions cannot race:

- SQLite (WAL): every write transaction starts with ``BEGIN IMMEDIATE``, which takes the
  database's write lock at once, so a transaction's reads and its writes see no other
  writer in between; waiting writers queue on ``busy_timeout``. Reads use a deferred
  ``BEGIN`` and never block (WAL).
- PostgreSQL (READ COMMITTED): a write locks what it decides on before reading it
  (``SELECT ... FOR UPDATE`` of the case and asset rows, a transaction-scoped advisory lock on an
  idempotency key, the audit chain's head row). In READ COMMITTED each statement sees what
  was committed before it began, so a read made after the lock is granted sees the previous
  holder's writes. Serialisation failures and deadlocks (which the lock order avoids) are
  retried.
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

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from load.api.sql import Tx, pooled_tx
from sim.errors import UserError

T = TypeVar("T")

# An id column: BIGINT on PostgreSQL, INTEGER PRIMARY KEY (the rowid, autoincrementing) on
# SQLite, where only the exact type name INTEGER makes a column the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

courts = Table(
    "courts",
    metadata,
    Column("court_id", String(64), primary_key=True),
    Column("region", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
)

debtors = Table(
    "debtors",
    metadata,
    Column("debtor_id", String(32), primary_key=True),
    Column("region", String(64), nullable=False),
)

assets = Table(
    "assets",
    metadata,
    Column("asset_id", String(48), primary_key=True),
    Column("debtor_id", String(32), ForeignKey("debtors.debtor_id"), nullable=False, index=True),
    Column("asset_type", String(32), nullable=False),
    Column("agency", String(64)),  # None: no agency holds records of this type
    Column("initial_fen", BigInteger, nullable=False),
    # provident-fund annual cap: deducted so far in cap_year (a calendar year)
    Column("cap_year", Integer, nullable=False, default=0),
    Column("cap_used_fen", BigInteger, nullable=False, default=0),
)

# Every fen lives in exactly one account: an asset's free balance (kind "debtor"), a freeze's
# hold ("frozen"), or a case's court account ("court"). Money moves only between accounts,
# each move one journal entry (see ledger.py).
accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("balance_fen", BigInteger, nullable=False),
    CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
)

journal = Table(
    "journal",
    metadata,
    Column("entry_id", Id, primary_key=True, autoincrement=True),
    Column("control_id", BigInteger),  # None for a freeze that lapsed
    Column("debit_account", String(64), nullable=False),  # money leaves this account
    Column("credit_account", String(64), nullable=False),  # and arrives here
    Column("amount_fen", BigInteger, nullable=False),
    Column("sim_time", Float, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Id, primary_key=True, autoincrement=True),
    Column("court_id", String(64), ForeignKey("courts.court_id"), nullable=False),
    Column("debtor_id", String(32), ForeignKey("debtors.debtor_id"), nullable=False),
    Column("claim_fen", BigInteger, nullable=False),
    Column("created_utc", String(32), nullable=False),
)

queries = Table(
    "queries",
    metadata,
    Column("query_id", Id, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("sent_sim", Float, nullable=False),
    Column("answer_at_sim", Float, nullable=False),  # the last agency's answer
)

findings = Table(
    "findings",
    metadata,
    Column("query_id", BigInteger, ForeignKey("queries.query_id"), primary_key=True),
    Column("asset_id", String(48), ForeignKey("assets.asset_id"), primary_key=True),
    Column("case_id", BigInteger, nullable=False),
    Column("agency", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("answer_at_sim", Float, nullable=False),
    Column("balance_fen", BigInteger, nullable=False),  # as the record says
    Column("wrong", Boolean, nullable=False),  # a wrong or stale record
    Column("online_freeze", Boolean, nullable=False),
    Column("online_deduct", Boolean, nullable=False),
    Index("findings_case_asset", "case_id", "asset_id"),
)

freezes = Table(
    "freezes",
    metadata,
    Column("freeze_id", Id, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.case_id"), nullable=False),
    Column("asset_id", String(48), ForeignKey("assets.asset_id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("online_freeze", Boolean, nullable=False),
    Column("online_deduct", Boolean, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),  # held when frozen
    Column("frozen_sim", Float, nullable=False),
    Column("expires_sim", Float, nullable=False),
    Column("status", String(16), nullable=False),  # active | released | lapsed
    Column("ended_sim", Float),
    Index("freezes_case_asset", "case_id", "asset_id"),
)

controls = Table(
    "controls",
    metadata,
    Column("control_id", Id, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("asset_id", String(48), nullable=False),
    Column("action", String(16), nullable=False),
    Column("amount_fen", BigInteger),  # money moved (None for a refusal, a renewal)
    Column("outcome", String(32), nullable=False),  # frozen|renewed|unfrozen|deducted|<code>
    Column("freeze_id", BigInteger),
    Column("freeze_expires_sim", Float),  # the freeze's expiry when this control acted
    Column("sim_time", Float, nullable=False),
    Column("cap_year", Integer),
    Column("created_utc", String(32), nullable=False),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("court_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_utc", String(32), nullable=False),
    Column("court", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)


# ---------------------------------------------------------------- engines

SQLITE_BUSY_TIMEOUT_MS = 30_000
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
            self.engine = _sqlite_engine(self.url, pool_size)
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
                self.url, pool_size=min(pool_size, 8), max_overflow=2, pool_pre_ping=False
            )
            self.writers = ThreadPoolExecutor(10, thread_name_prefix="pg-writer")

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
        """:meth:`read` straight on the DBAPI connection (the hot reads: load.api.sql)."""
        with self._raw(write=False) as tx:
            return fn(tx)

    async def write_async(self, fn: Callable[[Tx], T]) -> T:
        """:meth:`write_tx` from the event loop.

        SQLite: on the event loop itself when that waits for nothing: this process's write
        lock is free and ``BEGIN IMMEDIATE`` gets SQLite's at once (a connection of its own
        with no busy timeout). A short write then costs no thread hand-over (about 100 µs
        of CPU, more than the transaction), and blocks the loop no longer than its own CPU
        time: in WAL nothing after ``BEGIN IMMEDIATE`` waits, commits do not sync
        (synchronous=NORMAL) and checkpoints run in their own thread. Otherwise (another
        process or thread is writing), and always on PostgreSQL (network round trips, row
        locks), the write waits in this database's writer threads: one for SQLite, one per
        pooled connection for PostgreSQL."""
        if not self.is_postgres and self._lock.acquire(blocking=False):
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
            _sqlite_pragmas(conn, 0)  # never wait: the caller is the event loop
            self._loop_tx = Tx(conn, pg=False)
        dbapi = self._loop_tx.dbapi
        try:
            dbapi.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                return False, None
            raise
        try:
            result = fn(self._loop_tx)
        except BaseException as exc:
            dbapi.rollback()
            if isinstance(exc, sqlite3.OperationalError) and _locked(exc):
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
                if _locked(orig):  # SQLite waited busy_timeout for the write lock
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
        """Drop and create every table: a fresh world."""
        with self.engine.begin() as conn:
            metadata.drop_all(conn)
            metadata.create_all(conn)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.writers.shutdown(wait=True)
        if self._loop_tx is not None:
            self._loop_tx.dbapi.close()
        self.engine.dispose()


class Checkpointer:
    """Copies SQLite's WAL back into the database file in a thread of its own, so that no
    write transaction pays for it. (SQLite's automatic checkpoint, turned off on the
    serving connections, runs inside the commit that crosses 1000 pages of WAL, with two
    fsyncs, while the write lock is held: about 90 µs per control on average, and the
    writes queue behind it.) A PASSIVE checkpoint never blocks readers or writers; it is
    the same work, as durable (synchronous=NORMAL syncs the WAL before it is copied).

    A writer starts the WAL afresh only when it finds it wholly copied, which never happens
    while other writers keep adding to it: when the WAL is past ``RESTART_FRAMES``, the
    checkpointer copies the last few frames holding this process's write lock (a few
    milliseconds, about once a second under full load), and the next writer restarts it."""

    INTERVAL_S = 0.05
    RESTART_FRAMES = 4096  # 16 MiB of WAL

    def __init__(self, path: str, writer: AbstractContextManager[Any]) -> None:
        self.path = path
        self.writer = writer
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = None
        try:
            while not self._stopped.wait(self.INTERVAL_S):
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None)
                    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if frames > self.RESTART_FRAMES:
                        with self.writer:
                            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # the file is not there yet, or busy: try again later
                    pass
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)


def _locked(exc: BaseException | None) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)


def _sqlite_pragmas(dbapi_conn: Any, busy_timeout_ms: int) -> None:
    # Let the "begin" event (or the caller) issue BEGIN (pysqlite would defer it).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL stays consistent
    cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cur.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's thread does it
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_engine(url: str, pool_size: int) -> Engine:
    # Several processes share the file: a pool per process, connections used by one thread
    # at a time (SQLAlchemy's pool); check_same_thread off for the pool's hand-overs.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, SQLITE_BUSY_TIMEOUT_MS)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # straight on the DBAPI connection: SQLAlchemy's execution layer would double the cost
        # of a short transaction (see load.api.sql)
        dbapi: Any = conn.connection.driver_connection
        if conn.get_execution_options().get("chakong_write"):
            dbapi.execute("BEGIN IMMEDIATE")
        else:
            dbapi.execute("BEGIN")

    return engine
