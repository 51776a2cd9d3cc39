"""The console script itself, as a real process: the one place the simulation's tests
start ``chakong`` (everything else calls ``sim.cli.main`` in-process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import BASELINE, run_cli
from tests.sim.command import invoke

TINY_RUN = [
    "run",
    str(BASELINE),
    "--set",
    "horizon_days=40",
    "--set",
    "warmup_days=5",
    "--replications",
    "2",
    "--workers",
    "1",
    "--no-records",
    "--no-report",
    "--no-progress",
    "--json",
]


def test_the_console_script_lists_every_command_with_examples():
    res = run_cli("--help")
    assert res.returncode == 0, res.stderr
    for command in ("validate", "run", "compare", "sweep", "report", "demand", "serve", "load"):
        assert f"    {command}" in res.stdout
    assert "examples:" in res.stdout


def test_the_console_script_and_main_give_the_same_run(tmp_path):
    real = run_cli(*TINY_RUN, "--out", str(tmp_path / "real"))
    assert real.returncode == 0, real.stderr
    here = invoke(*TINY_RUN, "--out", str(tmp_path / "here"))
    assert here.returncode == 0, here.stderr
    assert json.loads(real.stdout) == json.loads(here.stdout)


@pytest.mark.slow
def test_python_dash_m_sim_cli_runs_the_command():
    res = subprocess.run(
        [sys.executable, "-m", "sim.cli", "--version"], capture_output=True, text=True
    )
    assert res.returncode == 0 and res.stdout.startswith("chakong ")
