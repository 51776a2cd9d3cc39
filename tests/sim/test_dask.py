"""Executors: a real local Dask cluster of two worker processes (loopback only) gives the
same results as local processes, records included; a bad address is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.engine.executors import DaskExecutor, LocalExecutor, Task, code_fingerprint
from sim.engine.runner import run_replications
from sim.errors import UserError
from sim.scenario import load_scenario
from tests.conftest import BASELINE, SCENARIOS

distributed = pytest.importorskip("distributed")

SHORT = ["horizon_days=120", "warmup_days=20"]
NATIONAL = SCENARIOS / "national-2023.toml"
SPLIT_SHORT = ["horizon_days=150", "warmup_days=30"]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as c:
        yield c


def _same(a, b) -> None:
    assert a.replication == b.replication
    assert json.dumps(a.metrics) == json.dumps(b.metrics)  # NaN (no observation) too
    assert a.close_days_hist == b.close_days_hist
    assert a.recovery_days_hist == b.recovery_days_hist
    assert a.backlog_counts == b.backlog_counts and a.pool_counts == b.pool_counts
    assert a.queries_by_hour == b.queries_by_hour
    assert a.agency_queries_by_hour == b.agency_queries_by_hour
    assert a.cases_filed == b.cases_filed


@pytest.mark.slow
def test_dask_and_local_processes_give_identical_results(cluster, tmp_path):
    scenario = load_scenario(BASELINE, SHORT).scenario
    local_parts, dask_parts = tmp_path / "local", tmp_path / "dask"
    local_parts.mkdir()
    dask_parts.mkdir()
    with LocalExecutor(2, show_progress=False) as ex:
        local = run_replications(
            scenario,
            17,
            3,
            keep_records=True,
            parts_dir=local_parts,
            show_progress=False,
            executor=ex,
        )
    with DaskExecutor(cluster.scheduler_address) as ex:
        assert ex.describe()["kind"] == "dask" and len(ex.describe()["workers"]) == 2
        assert ex.parallelism == 2
        remote = run_replications(
            scenario,
            17,
            3,
            keep_records=True,
            parts_dir=dask_parts,
            show_progress=False,
            executor=ex,
        )
    assert len(local) == len(remote) == 3
    for a, b in zip(local, remote, strict=True):
        _same(a, b)
        assert set(a.files) == set(b.files) == {"cases", "events"}
        for kind in a.files:  # record parts came back from the workers byte for byte
            assert Path(b.files[kind]).parent == dask_parts
            assert Path(a.files[kind]).read_bytes() == Path(b.files[kind]).read_bytes()
    assert local[0].metrics != local[1].metrics  # the replications do differ


@pytest.mark.slow
def test_dask_runs_a_mixed_batch_in_task_order(cluster):
    a = load_scenario(BASELINE, SHORT).scenario
    b = load_scenario(BASELINE, [*SHORT, "regions.hunan.officers=20"]).scenario
    tasks = [Task(a, 2, 0), Task(b, 2, 0), Task(a, 2, 1), Task(b, 2, 1)]
    with DaskExecutor(cluster.scheduler_address) as ex:
        remote = ex.run(tasks)
    with LocalExecutor(1) as ex:
        local = ex.run(tasks)
    for x, y in zip(local, remote, strict=True):
        _same(x, y)


@pytest.mark.slow
def test_the_cli_gives_the_same_json_with_dask(cluster, cli, tmp_path):
    args = [
        "run",
        str(BASELINE),
        *(f"--set={s}" for s in SHORT),
        "--replications",
        "2",
        "--seed",
        "4",
        "--json",
        "--no-records",
        "--no-report",
        "--no-progress",
    ]
    local = cli(*args, "--workers", "2", "--out", str(tmp_path / "local"))
    remote = cli(*args, "--dask", cluster.scheduler_address, "--out", str(tmp_path / "dask"))
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    assert json.loads(local.stdout) == json.loads(remote.stdout)
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["executor"]["kind"] == "dask"
    assert manifest["executor"]["address"] == cluster.scheduler_address
    assert manifest["executor"]["code"] == code_fingerprint()


@pytest.mark.slow
def test_workers_with_other_model_code_are_refused(cluster, monkeypatch):
    import sim.engine.executors

    monkeypatch.setattr(sim.engine.executors, "code_fingerprint", lambda: "0" * 16)
    with pytest.raises(UserError, match="run different chakong code"):
        DaskExecutor(cluster.scheduler_address)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("nonsense", "--dask nonsense: not a Dask scheduler address"),
        ("tcp://127.0.0.1:1", "--dask tcp://127.0.0.1:1: cannot connect to a Dask scheduler"),
    ],
)
def test_a_bad_dask_address_is_a_clear_error(address, message):
    with pytest.raises(UserError, match=message):
        DaskExecutor(address, timeout=1)


def test_a_bad_dask_address_on_the_cli_exits_2_and_writes_nothing(cli, tmp_path):
    res = cli("run", str(BASELINE), "--dask", "tcp://127.0.0.1:1", "--out", str(tmp_path / "x"))
    assert res.returncode == 2, res.stderr
    assert "chakong run: --dask tcp://127.0.0.1:1: cannot connect" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_a_replication_split_into_dask_tasks_gives_one_process_s_results(cluster):
    """The parts of one split replication as tasks on the cluster, the agencies here: the
    same results as one process (sim/engine/split.py); more parts than the cluster has
    threads would wait for each other for ever, and are refused."""
    scenario = load_scenario(NATIONAL, SPLIT_SHORT).scaled(0.003).scenario
    (whole,) = run_replications(scenario, 11, 1, show_progress=False)
    with DaskExecutor(cluster.scheduler_address, split=2) as ex:
        (split,) = run_replications(scenario, 11, 1, show_progress=False, executor=ex)
        assert ex.describe()["split"] == 2
    assert whole.cases_filed > 2_000
    _same(whole, split)
    with pytest.raises(UserError, match="worker threads"):
        DaskExecutor(cluster.scheduler_address, split=3)
