"""The results folder of a run, written whole or not at all.

Everything goes into a hidden temporary folder beside the destination, which is renamed to
the destination only when complete; a run that fails or is interrupted leaves nothing
half-written. The manifest records what is needed to repeat the run exactly.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import json
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.scenario.loader import LoadedScenario

PACKAGES = (
    "simpy",
    "numpy",
    "scipy",
    "networkx",
    "pydantic",
    "hdrhistogram",
    "matplotlib",
    "dask",
    "distributed",
)


def default_results_dir(scenario_name: str, root: Path = Path("results")) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = root / scenario_name / stamp
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{stamp}-{n}")
    return candidate


def check_destination(path: Path) -> None:
    """Refuse, before any work, to write into a folder that already has files."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"--out {path}: already exists and is not empty; choose another folder")


@contextmanager
def results_folder(destination: Path) -> Iterator[Path]:
    """A temporary folder that becomes ``destination`` only if the block completes."""
    check_destination(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if destination.exists():  # an empty folder given with --out
        destination.rmdir()
    os.replace(tmp, destination)


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def csv_number(v: float | None) -> str:
    """A number for a CSV cell: 6 significant digits, empty where missing or NaN."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"


def concatenate_parts(dest: Path, header: Iterable[str], parts: Iterable[str]) -> None:
    """Join CSV parts (written without header by the replications) under one header."""
    with dest.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(header) + "\n")
        for part in parts:
            with open(part, encoding="utf-8") as fh:
                shutil.copyfileobj(fh, out)
            os.remove(part)


def versions() -> dict[str, str]:
    from sim.model import _compiled  # the model's build: the same bits either way

    out = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "model": "compiled (mypyc)" if _compiled.compiled() else "python",
    }
    for name in ("chakong", *PACKAGES):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def manifest(
    loaded: LoadedScenario,
    *,
    seed: int,
    replications: int,
    workers: int,
    extra: Mapping[str, Any] | None = None,
    started: dt.datetime,
    wall_seconds: float,
) -> dict[str, Any]:
    import hashlib

    return {
        "command": shlex.join(["chakong", *sys.argv[1:]]),
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 3),
        "seed": seed,
        "replications": replications,
        "workers": workers,
        "scenario": {
            "name": loaded.scenario.name,
            "file": str(loaded.path),
            "sha256": loaded.sha256,
            "files": [
                {"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                for p in loaded.files
            ],
            "overrides": list(loaded.overrides),
            "scale": loaded.scale,
            "volume_factor": loaded.volume_factor,
            "resolved": loaded.resolved(),
        },
        "versions": versions(),
        **(extra or {}),
    }
