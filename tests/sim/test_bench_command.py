"""`chakong bench --national` runs and reports what it measured (the figures themselves are
benchmarks, never asserted here: the machines are shared and noisy)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_national_bench_reports_wall_time_and_memory(cli) -> None:
    done = cli("bench", "--national", "--scale", "0.002", "--json")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    assert r["scenario"] == "national-2023" and r["scale"] == 0.002
    assert 0 < r["volume_factor"] < 0.01
    assert r["matters_filed"] > 10_000
    assert r["wall_seconds"] > 0 and r["peak_rss_gib"] > 0
    assert r["matters_per_second"] == pytest.approx(r["matters_filed"] / r["wall_seconds"], 0.01)
    assert "simulated days" in done.stderr  # the progress bar


def test_national_bench_rejects_a_bad_scale(cli) -> None:
    done = cli("bench", "--national", "--scale", "1.5")
    assert done.returncode == 2
    assert "--scale" in done.stderr and "Traceback" not in done.stderr
