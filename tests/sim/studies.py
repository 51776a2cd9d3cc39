"""Shared, cached results folders for the study tests (compare, sweep, report).

Each is built once per test session (through the ``chakong`` command, in-process, with
short horizons and few replications) and reused by every module that asks for it, so the report
and browser tests read the very folders the command tests checked.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.conftest import BASELINE, SCENARIOS
from tests.sim.command import Result, invoke

SHORT = ["--set", "horizon_days=150", "--set", "warmup_days=20"]
MORE_OFFICERS = SCENARIOS / "whatif" / "baseline-more-officers.toml"
ALL_CENTRAL = SCENARIOS / "whatif" / "baseline-all-central.toml"

_cache: dict[str, Any] = {}


def shared_root(tmp_path_factory: Any) -> Path:
    """The test run's temporary folder: under pytest-xdist, the one its processes share
    (each process's own folder lies inside it)."""
    root = Path(tmp_path_factory.getbasetemp())
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def _build(tmp_path_factory: Any, command: str, *args: str, runs: int, seed: int) -> Any:
    """``chakong COMMAND ARGS`` on the baseline's short window, with ``runs`` replications
    on 2 workers, once per test run: (its folder, what the command gave). Under pytest-xdist
    the suite's processes share one copy: the first to ask builds it, holding a lock, and the
    others read it (the folders are only read; tests that change one change a copy)."""
    if command not in _cache:
        root = shared_root(tmp_path_factory)
        out, answer = root / f"study-{command}", root / f"study-{command}.json"
        with (root / f"study-{command}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not answer.exists():
                counts = ["--replications", str(runs), "--workers", "2", "--seed", str(seed)]
                res = invoke(command, str(BASELINE), *args, *SHORT, *counts, "--out", str(out))
                assert res.returncode == 0, res.stderr
                answer.write_text(json.dumps(asdict(res)), encoding="utf-8")
            _cache[command] = (out, Result(**json.loads(answer.read_text(encoding="utf-8"))))
    return _cache[command]


def run_folder(tmp_path_factory: Any) -> tuple[Path, Any]:
    """``chakong run`` of the baseline, with records, 3 replications, ``--json``."""
    return _build(tmp_path_factory, "run", "--json", runs=3, seed=11)


def compare_folder(tmp_path_factory: Any) -> tuple[Path, Any]:
    """``chakong compare`` of the baseline against two what-ifs, ``--json``."""
    others = (str(MORE_OFFICERS), str(ALL_CENTRAL))
    return _build(tmp_path_factory, "compare", *others, "--json", runs=4, seed=5)


def sweep_folder(tmp_path_factory: Any) -> tuple[Path, Any]:
    """``chakong sweep`` over two inputs (an lhs design of 8 points, 2 replications)."""
    varies = ("--vary", "regions.hunan.arrival_rate_per_day=6:14")
    varies += ("--vary", "regions.hunan.officers=14:22")
    return _build(tmp_path_factory, "sweep", *varies, "--samples", "8", runs=2, seed=3)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
