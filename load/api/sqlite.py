"""SQLite's side of the database: the pragmas of every connection, the engine, and WAL
checkpoints in a thread of their own."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


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


def locked(exc: BaseException | None) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)


def pragmas(dbapi_conn: Any, busy_timeout_ms: int) -> None:
    # Let the "begin" event (or the caller) issue BEGIN (pysqlite would defer it).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL stays consistent
    cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cur.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's thread does it
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def sqlite_engine(url: str, pool_size: int) -> Engine:
    # Several processes share the file: a pool per process, connections used by one thread
    # at a time (SQLAlchemy's pool); check_same_thread off for the pool's hand-overs.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_reset_on_return=None,  # every transaction ends in commit or rollback
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        pragmas(dbapi_conn, SQLITE_BUSY_TIMEOUT_MS)

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
