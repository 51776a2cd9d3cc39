"""Where replications run: this process, local worker processes, or a Dask cluster.

An executor turns :class:`Task` objects into :class:`~sim.engine.replication.ReplicationResult`
objects, returned in task order. A task names everything a replication depends on (the
scenario, the seed and the replication index), and :func:`~sim.engine.replication.single_run` is a
pure function of it, so every executor returns the same results for the same tasks: the
number of workers and the machine that ran a replication never change a figure.

- :class:`LocalExecutor` runs tasks in this process (one worker) or in a forkserver pool of
  worker processes that it keeps for its lifetime, so that a precision-driven run or a
  comparison that asks for several batches pays for the pool once. Workers report
  simulated days to the progress bar through a queue.
- :class:`DaskExecutor` sends tasks to a ``dask.distributed`` scheduler. Workers there may
  be on other machines, so a task that keeps records writes its CSV parts to a temporary
  folder on the worker and sends them back (compressed); they land in the task's
  ``parts_dir`` here. Before any work it checks that every worker runs the same ``sim``
  code as this process (a hash of its source), since a replication is only reproducible
  with the same model.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import queue
import socket
import tempfile
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sim.engine.replication import single_run
from sim.engine.split import Launcher, Part, run_part, run_split
from sim.errors import UserError
from sim.results.replication import ReplicationResult
from sim.scenario.schema import Scenario

Progress = Callable[[float], None] | None


@dataclass(frozen=True)
class Task:
    """One replication to run: everything its result depends on, and where its parts go."""

    scenario: Scenario
    seed: int
    replication: int
    keep_records: bool = False
    parts_dir: Path | None = None


def run_task(task: Task, progress: Progress = None) -> ReplicationResult:
    return single_run(
        task.scenario,
        task.seed,
        task.replication,
        task.keep_records,
        task.parts_dir,
        progress,
    )


class Executor:
    """Runs tasks; use as a context manager, or call :meth:`close`."""

    parallelism = 1  # how many tasks are worth running at once

    def run(self, tasks: Sequence[Task], progress: Progress = None) -> list[ReplicationResult]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What ran the work, for manifests."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- local processes

_progress_queue: Any = None  # set in each pool worker by _init_worker


def _init_worker(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _report(days: float) -> None:
    if _progress_queue is not None:
        _progress_queue.put(days)


def _run_in_worker(task: Task) -> ReplicationResult:
    return run_task(task, _report if _progress_queue is not None else None)


class LocalExecutor(Executor):
    """This process (``workers=1``) or a pool of ``workers`` local processes; or, with
    ``split`` above 1, each replication in turn split by region into that many processes
    (:mod:`sim.engine.split`)."""

    def __init__(self, workers: int = 1, show_progress: bool = True, split: int = 1) -> None:
        self.workers = max(1, workers)
        self.split = max(1, split)
        self.parallelism = self.workers if self.split == 1 else 1
        self._show_progress = show_progress
        self._pool: ProcessPoolExecutor | None = None
        self._queue: Any = None
        self._pump: threading.Thread | None = None
        self._stop = threading.Event()
        self._progress: Progress = None

    def describe(self) -> dict[str, Any]:
        if self.split > 1:
            return {"kind": "local", "split": self.split}
        return {"kind": "local", "workers": self.workers}

    def run(self, tasks: Sequence[Task], progress: Progress = None) -> list[ReplicationResult]:
        if self.split > 1:
            return [run_split(t.scenario, t.seed, t.replication, self.split, progress)
                    for t in _unrecorded(tasks)]  # fmt: skip
        if self.workers == 1 or len(tasks) <= 1:
            return [run_task(t, progress) for t in tasks]
        pool = self._ensure_pool()
        self._progress = progress
        try:
            return list(pool.map(_run_in_worker, tasks))
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "a worker process died: out of memory, or a script started workers > 1 "
                'outside `if __name__ == "__main__":` (worker processes import the '
                "script's main module; see the README's Python API section)"
            ) from exc
        finally:
            self._progress = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["sim.engine.replication"])
            if self._show_progress:
                self._queue = ctx.Queue()
                self._pump = threading.Thread(target=self._forward_progress, daemon=True)
                self._pump.start()
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self._queue,),
            )
        return self._pool

    def _forward_progress(self) -> None:
        while not self._stop.is_set():
            try:
                days = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            progress = self._progress
            if progress is not None:
                progress(days)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self._stop.set()
        if self._pump is not None:
            self._pump.join()
            self._pump = None
        if self._queue is not None:
            self._queue.close()
            self._queue.join_thread()
            self._queue = None


# ---------------------------------------------------------------- Dask


def code_fingerprint() -> str:
    """A hash of the ``sim`` package's source: equal only for the same model code."""
    root = Path(__file__).resolve().parents[1]  # the whole sim package, not only the engine
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _worker_fingerprint() -> str:
    """Run on a worker: the hash of the ``sim`` code installed there."""
    return code_fingerprint()


def _run_remote(task: Task) -> tuple[ReplicationResult, dict[str, tuple[str, bytes]]]:
    """Run a task on a Dask worker; record parts come back as compressed bytes."""
    if not (task.keep_records and task.parts_dir is not None):
        return run_task(task), {}
    with tempfile.TemporaryDirectory(prefix="chakong-") as tmp:
        result = run_task(replace(task, parts_dir=Path(tmp)))
        parts = {
            kind: (Path(path).name, zlib.compress(Path(path).read_bytes(), 1))
            for kind, path in result.files.items()
        }
    result.files = {}
    return result, parts


def _probe(address: str, timeout: float) -> None:
    """Check the address, and that a TCP scheduler answers, before creating a client (a
    client that fails to connect lingers and stalls the interpreter's exit)."""
    from distributed.comm import get_address_host_port, parse_address

    flag = f"--dask {address}"
    try:
        protocol, _ = parse_address(address, strict=True)
        host, port = get_address_host_port(address)
    except (ValueError, TypeError) as exc:
        raise UserError(
            f"{flag}: not a Dask scheduler address ({exc}); e.g. tcp://10.0.0.5:8786"
        ) from None
    if protocol not in ("tcp", "tls"):
        return
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"{flag}: cannot connect to a Dask scheduler: {reason}") from None


class DaskExecutor(Executor):
    """A ``dask.distributed`` cluster at ``address`` (e.g. ``tcp://10.0.0.5:8786``); with
    ``split`` above 1, each replication in turn split by region into that many tasks there,
    this process keeping the agencies (:mod:`sim.engine.split`)."""

    def __init__(self, address: str, timeout: float = 10.0, split: int = 1) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a dependency, but say so if it is missing
            raise UserError("--dask: dask.distributed is not installed") from None
        self.address = address
        _probe(address, timeout)
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:
            raise UserError(
                f"--dask {address}: cannot connect to a Dask scheduler: {exc}"
            ) from None
        try:
            self._check_workers(timeout)
        except BaseException:
            self.client.close()
            raise
        self.parallelism = max(1, sum(self.client.nthreads().values()))
        self.split = max(1, split)
        if self.split > self.parallelism:
            self.client.close()
            raise UserError(
                f"--split {self.split}: the parts of a replication run at once, and the "
                f"cluster at {address} has {self.parallelism} worker threads"
            )

    def _check_workers(self, timeout: float) -> None:
        address = self.address
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            raise UserError(f"--dask {address}: the scheduler has no workers") from None
        try:
            prints = self.client.run(_worker_fingerprint)
        except Exception as exc:
            raise UserError(
                f"--dask {address}: the workers cannot run chakong's model "
                f"(is chakong installed on them?): {type(exc).__name__}: {exc}"
            ) from None
        mine = code_fingerprint()
        strangers = sorted(w for w, fp in prints.items() if fp != mine)
        if strangers:
            raise UserError(
                f"--dask {address}: workers {', '.join(strangers)} run different chakong "
                f"code (source hash {prints[strangers[0]]}, here {mine}); install the same "
                "version on every worker"
            )
        self.workers = sorted(prints)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "dask",
            "address": self.address,
            "workers": self.workers,
            "threads": self.parallelism,
            "code": code_fingerprint(),
            "split": self.split,
        }

    def run(self, tasks: Sequence[Task], progress: Progress = None) -> list[ReplicationResult]:
        from distributed import as_completed

        if self.split > 1:
            launcher = DaskLauncher(self.client, self.address)
            return [
                run_split(t.scenario, t.seed, t.replication, self.split, progress, launcher)
                for t in _unrecorded(tasks)
            ]
        futures = self.client.map(_run_remote, list(tasks), pure=False)
        days = {f.key: t.scenario.horizon_days for f, t in zip(futures, tasks, strict=True)}
        for future in as_completed(futures, loop=self.client.loop):
            if future.status == "error":
                break  # gather below raises the task's exception
            if progress is not None:
                progress(days[future.key])
        results = []
        for (result, parts), task in zip(self.client.gather(futures), tasks, strict=True):
            if parts and task.parts_dir is not None:
                files = {}
                for kind, (name, blob) in parts.items():
                    path = task.parts_dir / name
                    path.write_bytes(zlib.decompress(blob))
                    files[kind] = str(path)
                result.files = files
            results.append(result)
        return results

    def close(self) -> None:
        self.client.close()


class DaskLauncher(Launcher):
    """The parts of a split replication as tasks of a Dask cluster; they reach this
    process at the address it reaches the scheduler from."""

    def __init__(self, client: Any, address: str) -> None:
        from distributed.comm import get_address_host_port

        self.client = client
        host, port = get_address_host_port(address)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))  # no packet: only the route's local address
            self.host = probe.getsockname()[0]

    def start(self, parts: Sequence[Part]) -> None:
        self.futures = self.client.map(run_part, list(parts), pure=False)

    def stop(self) -> None:
        self.client.gather(self.futures, errors="skip")


def _unrecorded(tasks: Sequence[Task]) -> Sequence[Task]:
    if any(t.keep_records for t in tasks):
        raise UserError(
            "--split: a split replication keeps statistics only (its parts would each "
            "write records); add --no-records"
        )
    return tasks


def make_executor(
    workers: int, dask: str | None = None, show_progress: bool = True, split: int = 1
) -> Executor:
    """A Dask executor when ``dask`` names a scheduler, else local processes; ``split``:
    the parts each replication's regions run in at once."""
    if dask:
        return DaskExecutor(dask, split=split)
    return LocalExecutor(workers, show_progress, split)
