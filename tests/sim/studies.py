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


def _build(key: str, root: Path, args: list[str]) -> tuple[Path, Any]:
    if key not in _cache:
        out = root / key
        res = invoke(*args, "--out", str(out))
        assert res.returncode == 0, res.stderr
        _cache[key] = (out, res)
    return _cache[key]


def run_folder(tmp_path_factory: Any) -> tuple[Path, Any]:
    """``chakong run`` of the baseline, with records, 3 replications on 2 workers."""
    root = tmp_path_factory.getbasetemp()
    return _build(
        "run",
        root,
        [
            "run",
            str(BASELINE),
            *SHORT,
            "--replications",
            "3",
            "--workers",
            "2",
            "--seed",
            "11",
            "--json",
        ],
    )


def compare_folder(tmp_path_factory: Any) -> tuple[Path, Any]:
    """``chakong compare`` of the baseline against two what-ifs, ``--json``."""
    root = tmp_path_factory.getbasetemp()
    return _build(
        "compare",
        root,
        [
            "compare",
            str(BASELINE),
            str(MORE_OFFICERS),
            str(ALL_CENTRAL),
            *SHORT,
            "--replications",
            "4",
            "--workers",
            "2",
            "--seed",
            "5",
            "--json",
        ],
    )


def sweep_folder(tmp_path_factory: Any) -> tuple[Path, Any]:
    """``chakong sweep`` over two inputs (an lhs design of 8 points, 2 replications)."""
    root = tmp_path_factory.getbasetemp()
    return _build(
        "sweep",
        root,
        [
            "sweep",
            str(BASELINE),
            *SHORT,
            "--vary",
            "regions.hunan.arrival_rate_per_day=6:14",
            "--vary",
            "regions.hunan.officers=14:22",
            "--samples",
            "8",
            "--replications",
            "2",
            "--workers",
            "2",
            "--seed",
            "3",
        ],
    )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
