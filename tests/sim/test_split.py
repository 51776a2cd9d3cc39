"""One replication split by region across processes (sim/engine/split.py): the same
results, to the bit, as one process, whatever the number of parts (on a real local Dask
cluster too: tests/sim/test_dask.py, beside its cluster); what it refuses, it refuses
clearly."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from sim.engine.executors import LocalExecutor
from sim.engine.replication import single_run
from sim.engine.runner import run_replications
from sim.engine.split import partition, run_split
from sim.errors import SplitNotExact
from sim.model.network import Network, serve_in_order
from sim.model.streams import Streams
from sim.model.topology import Topology
from sim.scenario import load_scenario
from tests.conftest import ROOT

NATIONAL = ROOT / "scenarios" / "national-2023.toml"
# four months of the country at a small scale: every region, every agency, the 终本 pool
SHORT = ["horizon_days=150", "warmup_days=30", "run.scale=0.003"]


@pytest.fixture(scope="module")
def scenario():
    loaded = load_scenario(NATIONAL, SHORT)
    return loaded.scaled(loaded.scenario.run.scale).scenario


@pytest.fixture(scope="module")
def unsplit(scenario):
    return single_run(scenario, 11, 0)


def _same(a, b) -> None:
    assert json.dumps(a.metrics) == json.dumps(b.metrics)  # every bit, NaN too
    assert list(a.backlog_counts) == list(b.backlog_counts)
    assert list(a.pool_counts) == list(b.pool_counts)
    assert a.close_days_hist == b.close_days_hist
    assert a.recovery_days_hist == b.recovery_days_hist
    assert a.queries_by_hour == b.queries_by_hour
    assert a.cases_filed == b.cases_filed


@pytest.mark.parametrize("parts", [1, 2, 5])
def test_a_split_replication_gives_one_process_s_results(scenario, unsplit, parts):
    split = run_split(scenario, 11, 0, parts)
    assert unsplit.cases_filed > 2_000  # a real run: thousands of matters
    assert unsplit.metrics["requery_pushes_per_year"] > 0  # the pool was pushed
    _same(unsplit, split)


def test_the_split_follows_the_seed(scenario, unsplit):
    other = run_split(scenario, 12, 0, 2)
    assert other.metrics != unsplit.metrics  # not a constant: another seed, other results


def test_an_executor_splits_each_replication_in_turn(scenario):
    with LocalExecutor(1, show_progress=False, split=3) as ex:
        split = run_replications(scenario, 11, 2, show_progress=False, executor=ex)
    whole = run_replications(scenario, 11, 2, show_progress=False)
    for a, b in zip(whole, split, strict=True):
        _same(a, b)


def test_regions_are_parted_once_each_and_evenly(scenario):
    groups = partition(scenario, 4)
    names = [n for g in groups for n in g]
    assert sorted(names) == sorted(scenario.regions) and len(groups) == 4
    order = list(scenario.regions)
    assert all(list(g) == sorted(g, key=order.index) for g in groups)  # scenario order
    load = [sum(scenario.regions[n].arrival_rate_per_day for n in g) for g in groups]
    assert max(load) < 1.5 * min(load)
    assert len(partition(scenario, 100)) == len(scenario.regions)  # no empty part


def test_two_parts_at_one_agency_at_one_instant_are_refused(scenario):
    desks = list(Network(scenario, Topology(scenario), Streams(1, 0)).desks.values())
    # one part's requests at one instant keep their order and are served
    done = serve_in_order(desks, [0, 0, 1], [0.5, 0.5, 0.5], [0, 0, 1])
    assert all(d >= 0.5 for d in done) and not any(math.isnan(d) for d in done)
    # two parts' at one agency: whose came first only one process's order knows
    with pytest.raises(SplitNotExact, match="same instant"):
        serve_in_order(desks, [0, 0], [1.5, 1.5], [0, 1])


def test_split_is_refused_with_records_and_below_one(tmp_path):
    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sim.cli", "run", str(NATIONAL), *flags,
             "--out", str(tmp_path / "out"), "--no-progress"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    records = run("--split", "2")
    assert records.returncode == 2 and "--no-records" in records.stderr
    assert "Traceback" not in records.stderr
    zero = run("--split", "0", "--no-records")
    assert zero.returncode == 2 and "--split" in zero.stderr
    assert not (tmp_path / "out").exists()  # nothing written


def test_an_answer_at_its_meeting_instant_is_refused(scenario):
    """One process would have scheduled the case's wait before the meeting's instant was
    over; a part cannot, so it stops rather than reorder (and says so)."""
    from sim.model.answers import Answers, pollers
    from sim.model.world import World
    from sim.results.observer import Observer

    world = World(scenario, Streams(3, 0), Observer(0, scenario.horizon_days, regions=31))
    answers = Answers(world.env, world.events, pollers(world.network), 100.0, lambda *a: [])
    world.network.answers = answers
    region = next(iter(world.regions))
    result = world.network.query(region, (), 1.0, 7)
    assert result.outstanding == len(answers.awaited) > 0  # held, not answered
    at = [2.0 - r.latency for r in answers.awaited]  # each answer at 2.0, the meeting
    with pytest.raises(SplitNotExact, match="not after the meeting"):
        answers.deliver(2.0, at, True)
    with pytest.raises(SplitNotExact, match="answers for"):
        answers.deliver(2.0, [], True)


def test_the_coordinator_passes_on_what_a_part_refused(scenario):
    from sim.engine.split import _HEAD, Coordinator

    coordinator = Coordinator(scenario, 1, 0, 2)
    with pytest.raises(SplitNotExact, match="part 1: an answer"):
        coordinator.receive(1, _HEAD.pack(math.nan, -1) + b"an answer at 2.0")
