"""What a server keeps outside its database: the audit key, the audit checkpoint, the clock.

``chakong serve --state-dir DIR`` (default: beside an SQLite file, ``FILE.state``; for
PostgreSQL a folder per database under ``~/.local/state/chakong``; for the temporary
database, its temporary folder) holds:

- ``audit.key``: the secret of the audit log's HMAC chains, made (random, readable by its
  owner only) when the world is made, unless ``CHAKONG_AUDIT_KEY`` gives the key instead.
  Whoever can write the database but not read this cannot forge the log;
- ``audit-checkpoint.json``: the signed heads of the audit chains (:mod:`load.api.checkpoint`),
  written every second and at shutdown: an auditor keeps copies of it;
- ``clock``: eight bytes the workers share (a memory map): how far the simulated clock was
  moved forward by ``POST /v1/admin/clock`` (kept in the database too, for restarts).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import secrets
import struct
from pathlib import Path

from sqlalchemy.engine import make_url

from sim.errors import UserError

STATE_ENV = "CHAKONG_API_STATE"
KEY_ENV = "CHAKONG_AUDIT_KEY"
KEY_FILE = "audit.key"
CHECKPOINT_FILE = "audit-checkpoint.json"
CLOCK_FILE = "clock"


def default_dir(db_url: str) -> Path:
    """Where a server on ``db_url`` keeps its state unless told otherwise."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return Path(f"{url.database}.state")
    shown = url.render_as_string(hide_password=True)
    name = f"{url.host or 'local'}-{url.port or 5432}-{url.database}"
    digest = hashlib.sha256(shown.encode()).hexdigest()[:8]
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "chakong" / f"{name}-{digest}"


class StateDir:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @classmethod
    def from_env(cls) -> StateDir:
        return cls(os.environ[STATE_ENV])

    @property
    def checkpoint_file(self) -> Path:
        return self.path / CHECKPOINT_FILE

    @property
    def clock_file(self) -> Path:
        return self.path / CLOCK_FILE

    @property
    def key_file(self) -> Path:
        return self.path / KEY_FILE

    def make(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--state-dir: cannot make {self.path}: {exc.strerror}") from None

    def new_key(self) -> None:
        """A fresh audit key (a fresh world), unless the environment gives one."""
        if os.environ.get(KEY_ENV):
            return
        self.make()
        tmp = self.key_file.with_name(f".{KEY_FILE}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        tmp.replace(self.key_file)

    def key(self) -> bytes:
        """The audit key: ``$CHAKONG_AUDIT_KEY``, or the key file."""
        given = os.environ.get(KEY_ENV)
        if given:
            return given.encode()
        try:
            text = self.key_file.read_text().strip()
        except OSError:
            raise UserError(
                f"the audit key is missing: {self.key_file} (or set {KEY_ENV}); without it "
                "the audit log cannot be verified (--reset starts a new world)"
            ) from None
        if not text:
            raise UserError(f"the audit key file {self.key_file} is empty")
        return text.encode()


class SharedClock:
    """A float the workers share through a memory-mapped file: the clock's offset in days."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists() or path.stat().st_size < 8:
            path.write_bytes(struct.pack("<d", 0.0))
        self._file = path.open("r+b")
        self._map = mmap.mmap(self._file.fileno(), 8)

    def get(self) -> float:
        return float(struct.unpack_from("<d", self._map)[0])

    def set(self, days: float) -> None:
        struct.pack_into("<d", self._map, 0, days)

    def close(self) -> None:
        self._map.close()
        self._file.close()
