"""The simulated demand of a load run, computed once per scenario and reused.

``chakong load`` needs the scenario's demand (``chakong demand``: the mix of requests and
their rates by hour), which takes a simulation. It is kept in a cache keyed by the hash of
the scenario's files (with ``--set`` overrides), the seed, the replications and the scale,
so a second run of the same scenario starts at once, and the national scenario can be
load-tested after one simulation. ``--scale F`` simulates F of the volume; the demand's
rates are at full volume whatever the scale (divided by the volume kept), since a load test
sizes the full deployment. The cache lives in ``$CHAKONG_CACHE_DIR`` (default ``~/.cache/chakong``)
under ``demand/``; ``--no-demand-cache`` recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sim.scenario.loader import LoadedScenario

CACHE_ENV = "CHAKONG_CACHE_DIR"
VERSION = 2  # bump when the demand's form changes
IGNORED = ("api.", "load.")  # overrides of tables the simulation never reads


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "chakong"
    return Path(root) / "demand"


def cache_key(loaded: LoadedScenario, seed: int, replications: int) -> str:
    """The key of a demand: the scenario's files, seed, replications, scale and the
    overrides the simulation reads (not ``api.*`` or ``load.*``: how the API and the load
    test run changes no simulated demand)."""
    overrides = [o for o in loaded.overrides if not o.strip().startswith(IGNORED)]
    text = json.dumps([VERSION, loaded.sha256, overrides, seed, replications, loaded.scale])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def demand_for(
    loaded: LoadedScenario,
    *,
    seed: int,
    replications: int,
    show_progress: bool,
    use_cache: bool = True,
) -> tuple[dict[str, Any], str]:
    """The demand (rates at full volume) and where it came from (``cache`` or ``simulated``)."""
    from sim.study.demand import run_demand

    path = cache_dir() / f"{cache_key(loaded, seed, replications)}.json"
    if use_cache and path.exists():
        try:
            return json.loads(path.read_text(encoding="utf-8")), f"cache {path}"
        except (OSError, ValueError):
            pass  # a damaged entry: simulate again
    demand = run_demand(loaded, seed=seed, replications=replications, show_progress=show_progress)
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".demand-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(demand, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written is no reason to fail a run
    return demand, "simulated"
