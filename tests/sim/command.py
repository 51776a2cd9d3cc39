"""``chakong`` run in this process: ``sim.cli.main(argv)`` with its output captured, the
same exit codes a process gives (argparse's included) and, for an exception that escapes,
exit 1 and the traceback on stderr."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from sim.cli import main
from tests.conftest import ROOT


@dataclass
class Result:
    """What a run of the command gave, as :class:`subprocess.CompletedProcess` names it."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def invoke(*args: str, cwd: Path | None = None, timeout: float | None = None) -> Result:
    """``chakong ARGS`` in this process (``cwd``, default the project folder, as the
    process's working directory; ``sys.argv`` as a process would see it, for manifests)."""
    out, err = io.StringIO(), io.StringIO()
    argv, here = sys.argv, os.getcwd()
    sys.argv = ["chakong", *args]
    os.chdir(cwd or ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, --version, bad flags
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
        os.chdir(here)
    return Result(["chakong", *args], code, out.getvalue(), err.getvalue())
