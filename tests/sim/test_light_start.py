"""Short commands stay light: ``chakong --help`` (every command's parser, the plug-ins'
included) and ``chakong validate`` load none of the heavy libraries, and ``chakong report``
draws a run's report without the simulation. The check is on ``sys.modules`` in a fresh
interpreter, never on a time, so it holds on any machine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import BASELINE, ROOT
from tests.sim import studies

SCIENCE = ("numpy", "scipy", "simpy", "networkx", "matplotlib", "pandas", "dask", "distributed")
"""What the simulation and its reports need, and a short command does not."""

SERVERS = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "locust", "gevent")
"""What ``chakong serve`` and ``chakong load`` need only once they run."""

PROBE = """
import contextlib, io, json, sys
from sim.cli import main

with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:  # --help exits through argparse
        code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def loaded_after(*argv: str) -> tuple[int, set[str]]:
    """The exit code of ``chakong ARGV`` run by ``sim.cli.main`` in a fresh interpreter,
    and the top-level packages imported by then."""
    res = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)
    return found["code"], set(found["modules"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["run", "--help"],
        ["calibrate", "--help"],
        ["bench", "--help"],
        ["sweep", "--help"],
        ["demand", "--help"],
        ["serve", "--help"],
        ["load", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_no_heavy_library_and_no_pydantic(argv):
    code, modules = loaded_after(*argv)
    assert code == 0
    assert "sim" in modules  # the probe ran the command
    heavy = modules & {*SCIENCE, *SERVERS, "pydantic"}
    assert not heavy, f"chakong {' '.join(argv)} imported {sorted(heavy)}"


def test_validate_reads_the_scenario_without_the_simulation_libraries():
    code, modules = loaded_after("validate", str(BASELINE))
    assert code == 0
    assert "pydantic" in modules  # the scenario was read and checked
    heavy = modules & {*SCIENCE, *SERVERS}
    assert not heavy, f"chakong validate imported {sorted(heavy)}"


def test_validate_coverage_still_loads_the_topology():
    """--coverage needs the network of channels (networkx): the lazy import still runs."""
    code, modules = loaded_after("validate", str(BASELINE), "--coverage")
    assert code == 0
    assert "networkx" in modules


def test_report_of_a_run_draws_without_the_simulation(tmp_path_factory, tmp_path):
    """A run's report reads its folder: the model, the engine and scipy stay unloaded."""
    run_dir = studies.run_folder(tmp_path_factory)[0]
    out = tmp_path / "report.html"
    code, modules = loaded_after("report", str(run_dir), "--out", str(out))
    assert code == 0 and out.stat().st_size > 0
    assert {"matplotlib", "fontTools"} <= modules  # the report was drawn
    heavy = modules & {"simpy", "networkx", "scipy", "hdrh", "pandas", "dask", *SERVERS}
    assert not heavy, f"chakong report imported {sorted(heavy)}"
