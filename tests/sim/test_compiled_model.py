"""The model compiled by mypyc at install (``sim/model/_compiled.py``) and the same model run
as Python give the same bits; the install compiles it where there is a C compiler."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from sim.model import _compiled

ROOT = Path(__file__).resolve().parents[2]

# One short replication with its event log, in a process of its own: where each model module
# was imported from, and a digest of every event row, case row and metric.
RUN = """
import hashlib, importlib, json, sys
from pathlib import Path
from sim.engine.replication import run_once
from sim.model import _compiled
from sim.scenario import load_scenario

sc = load_scenario(Path("scenarios/baseline.toml"), ["horizon_days=240"]).scenario
world, obs = run_once(sc, 2023, 1, keep_records=True)
digest = hashlib.sha256()
digest.update(repr(obs.sorted_rows()).encode())
digest.update(repr(list(obs.all_case_rows())).encode())
digest.update(repr(sorted(obs.metrics().items())).encode())
files = {n: importlib.import_module(n).__file__ for n in _compiled.COMPILED}  # imported or not
print(json.dumps({"digest": digest.hexdigest(), "rows": len(obs.rows), "files": files,
                  "compiled": _compiled.compiled()}))
"""


def _run(interpreted: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != _compiled.ENV}
    if interpreted:
        env[_compiled.ENV] = "1"
    out = subprocess.run(
        [sys.executable, "-c", RUN], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _need_compiled_build() -> None:
    if os.environ.get(_compiled.ENV):
        pytest.skip(f"{_compiled.ENV} is set: this run imports the model from its sources")
    if _compiled.extension("sim.model.world") is None:
        pytest.skip("the model was installed without its compiled modules (no C compiler)")
    if _compiled.stale():
        pytest.skip(f"model sources edited since the build ({_compiled.stale()}): pip install -e .")


def test_the_install_compiles_every_model_module():
    compiler = sysconfig.get_config_var("CC") or "cc"
    if shutil.which(compiler.split()[0]) is None:
        pytest.skip(f"no C compiler ({compiler}): the install leaves the model as Python")
    if os.environ.get(_compiled.ENV):
        pytest.skip(f"{_compiled.ENV} is set: this run imports the model from its sources")
    missing = [n for n in _compiled.COMPILED if _compiled.extension(n) is None]
    assert not missing, f"built without: {missing}"
    if (ROOT / ".git").exists():  # an editable install records what it compiled
        assert _compiled.BUILT_FROM.is_file()
    model = {"world", "lifecycle", "clock", "network", "closing"}
    assert {f"sim.model.{n}" for n in model} | {"sim.results.observer"} <= set(_compiled.COMPILED)


def test_compiled_and_interpreted_model_give_the_same_bits():
    _need_compiled_build()
    compiled, interpreted = _run(interpreted=False), _run(interpreted=True)
    assert compiled["compiled"] and not interpreted["compiled"]
    assert all(not f.endswith(".py") for f in compiled["files"].values()), compiled["files"]
    assert all(f.endswith(".py") for f in interpreted["files"].values()), interpreted["files"]
    assert compiled["rows"] > 10_000  # the run did something worth comparing
    assert compiled["rows"] == interpreted["rows"]
    assert compiled["digest"] == interpreted["digest"]


def test_a_source_changed_after_the_build_is_noticed(tmp_path, monkeypatch):
    """The model runs as Python, not as stale C, once a source differs from the one the
    build compiled (or is new); with no record (a wheel) nothing is stale."""
    built = _compiled.digests()
    assert set(built) == set(_compiled.COMPILED)
    assert all(len(d) == 64 for d in built.values())
    record = tmp_path / "built_from.json"
    monkeypatch.setattr(_compiled, "BUILT_FROM", record)
    assert _compiled.stale() == []  # no record
    record.write_text(json.dumps(built), encoding="utf-8")
    assert _compiled.stale() == []
    edited = {**built, "sim.model.clock": "0" * 64, "sim.results.observer": "1" * 64}
    del edited["sim.model.world"]  # as if world.py were new since the build
    record.write_text(json.dumps(edited), encoding="utf-8")
    assert _compiled.stale() == ["sim.model.clock", "sim.model.world", "sim.results.observer"]
    assert _compiled.source("sim.results.observer") == ROOT / "sim" / "results" / "observer.py"
