"""Shared, cached results folders for the study tests (compare, sweep, report).

Each is built once per test session (through the ``chakong`` command, in-process, with
short horizons and few replications) and reused by every module that asks for it, so the report
and browser tests read the very folders the command tests checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import BASELINE, SCENARIOS
from tests.sim.command import invoke

SHORT = ["--set", "horizon_days=150", "--set", "warmup_days=20"]
MORE_OFFICERS = SCENARIOS / "whatif" / "baseline-more-officers.toml"
ALL_CENTRAL = SCENARIOS / "whatif" / "baseline-all-central.toml"

_cache: dict[str, Any] = {}


def _build(tmp_path_factory: Any, command: str, *args: str, runs: int, seed: int) -> Any:
    """``chakong COMMAND ARGS`` on the baseline's short window, with ``runs`` replications
    on 2 workers, once per session: (its folder, what the command gave)."""
    if command not in _cache:
        out = tmp_path_factory.getbasetemp() / command
        counts = ["--replications", str(runs), "--workers", "2", "--seed", str(seed)]
        res = invoke(command, str(BASELINE), *args, *SHORT, *counts, "--out", str(out))
        assert res.returncode == 0, res.stderr
        _cache[command] = (out, res)
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
