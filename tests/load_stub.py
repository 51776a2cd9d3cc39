"""The stub API (load.stub_server) in its own process, for the load tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import BASELINE

# a short simulation for the demand: load tests set the rate themselves
QUICK = ["--set", "horizon_days=30", "--set", "warmup_days=0"]


@contextmanager
def stub_api(tmp_path: Path, *args: str) -> Iterator[tuple[str, Path]]:
    fixtures = tmp_path / "fixtures.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "load.stub_server", "--fixtures-out", str(fixtures), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("listening on "), line
        yield json.loads(fixtures.read_text())["base_url"], fixtures
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def load_args(url: str, fixtures: Path, out: Path, *more: str) -> list[str]:
    return ["load", str(BASELINE), "--host", url, "--fixtures", str(fixtures), "--out",
            str(out), "--json", "--no-progress", *QUICK, *more]  # fmt: skip


def wait_until(predicate, seconds: float = 10) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False
