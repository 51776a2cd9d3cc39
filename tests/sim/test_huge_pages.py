"""Python's arenas on huge pages (``sim/engine/_arenas.c``): memory is handed out, given
back and reused, arenas made before it was in place go back to their own allocator, and a
replication gives the same bits with it and without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sim.engine._arenas", reason="the arena extension was not built here")

ROOT = Path(__file__).resolve().parents[2]

CHURN = """
import json
from sim.engine.hugepages import huge_pages, use_huge_pages

before = [(i, float(i)) for i in range(300_000)]  # arenas of the allocator before
assert use_huge_pages() and use_huge_pages()  # once; the second call does nothing
del before  # their arenas go back to it, not to the regions
made = [[(i, str(i)) for i in range(200_000)] for _ in range(3)]
total = sum(len(m) for m in made)
peak = huge_pages()
del made  # arenas from the regions, given back and kept
spare = huge_pages()["spare_arenas"]
again = [(i, str(i)) for i in range(400_000)]  # served from the spares first
assert again[399_999] == (399_999, "399999") and total == 600_000
print(json.dumps({"peak": peak, "spare": spare, "after": huge_pages()}))
"""

RUN = """
import hashlib
from pathlib import Path
from sim.engine.hugepages import huge_pages
from sim.engine.replication import run_once
from sim.scenario import load_scenario

sc = load_scenario(Path("scenarios/baseline.toml"), ["horizon_days=200"]).scenario
world, obs = run_once(sc, 2023, 1, keep_records=True)
digest = hashlib.sha256(repr(obs.sorted_rows()).encode())
digest.update(repr(sorted(obs.metrics().items())).encode())
print(digest.hexdigest(), huge_pages()["installed"])
"""


def _python(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_arenas_are_served_given_back_and_reused() -> None:
    seen = json.loads(_python(CHURN))
    assert seen["peak"]["installed"] and seen["peak"]["regions"] >= 1
    assert seen["spare"] > 0  # the freed arenas were ours, and kept
    assert seen["after"]["spare_arenas"] < seen["spare"]  # and handed out again
    assert seen["after"]["regions"] == seen["peak"]["regions"]  # before any new region


def test_a_replication_gives_the_same_bits_with_and_without_huge_pages() -> None:
    on = _python(RUN).split()
    off = _python(RUN, CHAKONG_HUGE_PAGES="0").split()
    assert on[1] == "True" and off[1] == "False"
    assert on[0] == off[0]
