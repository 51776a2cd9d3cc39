"""Fixtures of the load half's tests: ``chakong`` in this process, or as a real process.

Tests of ``chakong load`` that need no process of their own (bad input, a run whose Locust
children are started by the command anyway) call :func:`sim.cli.main` here, through
``chakong``; tests of signals start the command as a real process (``chakong_process``).
"""

from __future__ import annotations

import pytest

from tests.load.load_stub import Result, run_process


@pytest.fixture
def chakong(capsys):
    """Run ``chakong ARGS`` in this process (``sim.cli.main``); its exit code and output."""
    from sim.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: bad flags, --help
            code = exc.code if isinstance(exc.code, int) else 2
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


@pytest.fixture
def chakong_process():
    return run_process


@pytest.fixture(autouse=True, scope="session")
def _demand_cache(tmp_path_factory):
    """One demand cache for the session's runs, never the user's own."""
    import os

    old = os.environ.get("CHAKONG_CACHE_DIR")
    os.environ["CHAKONG_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("CHAKONG_CACHE_DIR", None)
    else:
        os.environ["CHAKONG_CACHE_DIR"] = old
