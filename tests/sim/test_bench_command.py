"""`chakong bench` and `chakong bench --national` run and report what they measured (the
figures themselves are benchmarks, never asserted here: the machines are shared and noisy),
and the events they count are the events the run processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.engine.bench import (
    SEED,
    events_per_matter,
    format_bench,
    textbook_events_per_customer,
)
from sim.engine.national_bench import format_national_bench
from sim.engine.replication import single_run
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS

MMC = SCENARIOS / "validation" / "mmc.toml"


def test_a_textbook_customer_is_six_simpy_events() -> None:
    # an arrival timeout, the process's start, the request, the service timeout, the
    # release and the process's end; the source's own start and end spread over 2,000
    assert textbook_events_per_customer(2000) == pytest.approx(6.0, abs=0.01)


def test_counting_events_leaves_the_replication_as_it_was() -> None:
    scenario = load_scenario(MMC, ["horizon_days=300", "warmup_days=50"]).scenario
    per_matter, filed = events_per_matter(scenario)
    assert filed == single_run(scenario, SEED, 0).cases_filed > 100
    assert 3 < per_matter < 30


@pytest.mark.slow
def test_bench_reports_the_ratio_events_and_memory(cli, tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(
        f'extends = "{MMC.as_posix()}"\nname = "tiny"\nhorizon_days = 400\nwarmup_days = 50\n'
        "[regions.court]\narrival_rate_per_day = 0.5\n"
    )
    done = cli("bench", "--scenario", str(tiny), "--repeat", "1", "--json")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    assert r["scenario"] == "tiny" and r["rounds"] == 1 and r["target_ratio"] == 0.4
    assert r["ratio"] == pytest.approx(
        r["cases_per_second"] / r["textbook_customers_per_second"], rel=0.01
    )
    assert r["ratio_per_round"] == [r["ratio"]]
    assert r["cases_per_round"] == [r["cases_per_replication"]] and r["cases_per_replication"] > 0
    assert r["events_per_matter"] > 1 and r["textbook_events_per_customer"] == pytest.approx(6)
    assert r["memory_growth_ratio"] == pytest.approx(
        r["peak_memory_mb_4x"] / r["peak_memory_mb_1x"], rel=0.01
    )
    # the state held at each horizon, and the growth for each more matter held open: here
    # about 45 matters wait out their 3 months before closing 终本; the pool re-queries none
    assert 30 < r["open_matters_1x"] < 70 and 30 < r["open_matters_4x"] < 70
    assert r["pool_members_1x"] == r["pool_members_4x"] == 0
    more_open = r["open_matters_4x"] - r["open_matters_1x"]
    per_open = r["memory_kb_per_more_open_matter"]
    if more_open > 0:
        grew = (r["peak_memory_mb_4x"] - r["peak_memory_mb_1x"]) * 1024
        assert per_open == pytest.approx(grew / more_open, rel=0.02)
    else:
        assert per_open is None
    text = format_bench(r)
    assert f"{r['open_matters_1x']:,} -> {r['open_matters_4x']:,} matters open" in text
    assert f"({r['cases_per_replication']:,} cases a replication, best of 1 rounds" in text
    # rounds run replications of their own: the header gives their range, not the last's
    r |= {"rounds": 2, "cases_per_round": [15_672, 15_518], "ratio_per_round": [0.5, 0.6]}
    assert "(15,518 to 15,672 cases a replication, one a round, best of 2 rounds" in (
        format_bench(r)
    )


@pytest.mark.slow
def test_national_bench_runs_each_scale_in_its_own_process(cli) -> None:
    done = cli("bench", "--national", "--scale", "0.001,0.0005", "--repeat", "2", "--json")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    assert r["scenario"] == "national-2023" and r["splits"] == []  # none asked for
    assert r["rounds"] == 2 and len(r["relative_cost_by_round"]) == 2
    for run in r["runs"]:  # each scale's best round, and both rounds beside it
        assert len(run["round_wall_seconds"]) == len(run["round_cost_per_matter"]) == 2
        assert run["cost_per_matter"] == pytest.approx(min(run["round_cost_per_matter"]))
        assert run["wall_seconds"] in run["round_wall_seconds"]
    assert (r["target_wall_seconds"], r["target_peak_gib"]) == (600, 1.5)
    small, large = r["runs"]
    assert (small["scale"], large["scale"]) == (0.0005, 0.001)  # smallest first
    assert 0 < small["volume_factor"] < large["volume_factor"] < 0.01
    assert 2_000 < small["matters_filed"] < large["matters_filed"]
    for run in r["runs"]:
        assert run["wall_seconds"] > 0 and run["cpu_seconds"] > 0 and run["peak_rss_gib"] > 0
        assert isinstance(run["huge_pages"], bool)
        assert run["matters_per_second"] == pytest.approx(
            run["matters_filed"] / run["wall_seconds"], rel=0.01
        )
        assert run["cost_per_matter"] == pytest.approx(
            run["textbook_customers_per_second"] / run["matters_per_second"], rel=0.01
        )
    assert small["relative_cost"] == 1
    assert large["relative_cost"] == pytest.approx(
        large["cost_per_matter"] / small["cost_per_matter"], rel=0.01
    )
    assert r["largest_relative_cost"] == large["relative_cost"]
    assert "at scale 0.0005 (round 1 of 2)" in done.stderr  # the bars, the scales in turn
    assert "at scale 0.001 (round 2 of 2)" in done.stderr


@pytest.mark.parametrize(
    ("scales", "problem"),
    [
        ("1.5", "must be in (0, 1]"),
        ("0.01,0", "must be in (0, 1]"),
        ("0.01,x", "expected a number"),
        ("0.01,,0.2", "separated by commas"),
    ],
)
def test_national_bench_rejects_a_bad_scale_list(cli, scales: str, problem: str) -> None:
    done = cli("bench", "--national", "--scale", scales)
    assert done.returncode == 2
    assert "--scale" in done.stderr and problem in done.stderr
    assert "Traceback" not in done.stderr


def test_scale_belongs_to_the_national_bench(cli) -> None:
    done = cli("bench", "--scale", "0.1")
    assert done.returncode == 2
    assert "--scale applies with --national only" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_national_bench_splits_a_replication_with_the_same_results(cli) -> None:
    done = cli("bench", "--national", "--scale", "0.0005", "--split", "1,3", "--json")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    (unsplit,) = r["runs"]
    assert [s["parts"] for s in r["splits"]] == [1, 3]
    for s in r["splits"]:
        assert s["same_metrics"] is True  # held to the unsplit run, every bit
        assert s["matters_filed"] == unsplit["matters_filed"] > 2_000
        assert len(s["part_figures"]) == s["parts"]
        assert sum(p["filed"] for p in s["part_figures"]) == s["matters_filed"]
        assert s["cpu_seconds"] > s["coordinator_cpu_seconds"] > 0
        assert s["requests"] > s["matters_filed"]  # every query asks several agencies
        speedup = unsplit["wall_seconds"] / s["wall_seconds"]
        assert s["speedup"] == pytest.approx(speedup, abs=0.0006)  # given to 3 decimals
    assert "split 3" in done.stderr  # its own progress bar
    text = format_national_bench(r)
    assert text.count("yes, to the bit") == 2


@pytest.mark.parametrize(
    "flags",
    [["--split", "2"], ["--national", "--split", "0"], ["--national", "--split", "2,x"]],
)
def test_bench_split_is_refused_where_it_means_nothing(cli, flags) -> None:
    done = cli("bench", *flags)
    assert done.returncode == 2 and "--split" in done.stderr and "Traceback" not in done.stderr
