"""Fixtures of the API's tests: PostgreSQL databases for the session, ``chakong`` in-process.

Tests that need a server start a real ``chakong serve`` process (:mod:`tests.api.support`);
tests of the command's flags and errors, which never get as far as serving, call
:func:`sim.cli.main` in this process (``chakong``).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.api.support import PgDatabases


@pytest.fixture(scope="session")
def pg() -> Iterator[PgDatabases]:
    """Fresh PostgreSQL databases, all dropped at the end of the session."""
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def chakong(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Result]]:
    """Run ``chakong ARGS`` in this process: its exit code and what it printed."""
    from sim.cli import main

    sigterm = signal.getsignal(signal.SIGTERM)

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, bad flags
            code = exc.code if isinstance(exc.code, int) else 2
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    yield run
    signal.signal(signal.SIGTERM, sigterm)  # chakong serve sets its own
