"""What every test folder shares: the project's paths, and the real ``chakong`` console
command for tests that need a process of their own (servers, signals, Locust, the console
script itself). The simulation's tests run the command in-process (tests/sim/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"


def assert_holds(folder: Path, *names: str) -> None:
    """The results folder holds these files (and maybe others); a failure names the
    missing ones."""
    missing = sorted(set(names) - {p.name for p in folder.iterdir()})
    assert not missing, f"{folder} lacks {missing}"


def chakong_exe() -> list[str]:
    exe = Path(sys.executable).with_name("chakong")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "sim.cli"]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``chakong ARGS`` as a real process (the console script)."""
    env = dict(os.environ, PYTHONWARNINGS="error::DeprecationWarning")
    return subprocess.run(
        [*chakong_exe(), *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def cli():
    return run_cli
