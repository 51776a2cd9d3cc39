"""Replications: seeds -> independent runs -> results in replication order.

Replication ``i`` of a run with seed ``s`` always uses the streams of (``s``, ``i``), so the
results do not depend on how many workers ran them or in which order they finished. With
more than one worker the replications run in separate processes (a forkserver pool, which
imports the model once); a progress bar on stderr counts simulated days.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sim.replication import ReplicationResult, single_run
from sim.scenario.schema import Scenario

_progress_queue: Any = None


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _init_worker(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _report(days: float) -> None:
    if _progress_queue is not None:
        _progress_queue.put(days)


def _run_one(args: tuple[Scenario, int, int, bool, Path | None]) -> ReplicationResult:
    scenario, seed, replication, keep, parts = args
    return single_run(scenario, seed, replication, keep, parts, _report)


def run_replications(
    scenario: Scenario,
    seed: int,
    replications: int,
    workers: int = 1,
    keep_records: bool = False,
    parts_dir: Path | None = None,
    show_progress: bool = True,
    first_replication: int = 0,
) -> list[ReplicationResult]:
    """Run replications ``first_replication .. first_replication + replications - 1``."""
    indices = list(range(first_replication, first_replication + replications))
    total_days = scenario.horizon_days * replications
    bar = tqdm(
        total=round(total_days),
        unit="day",
        desc=f"{scenario.name}: {replications} replications",
        disable=not show_progress,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        bar_format="{desc} |{bar}| {percentage:3.0f}% simulated days [{elapsed}<{remaining}]",
    )
    try:
        if workers <= 1 or replications == 1:
            return [
                single_run(scenario, seed, i, keep_records, parts_dir, _bar_updater(bar))
                for i in indices
            ]
        return _in_processes(scenario, seed, indices, workers, keep_records, parts_dir, bar)
    finally:
        bar.close()


def _bar_updater(bar: tqdm) -> Callable[[float], None] | None:
    if bar.disable:
        return None
    return lambda days: bar.update(days)


def _in_processes(
    scenario: Scenario,
    seed: int,
    indices: list[int],
    workers: int,
    keep: bool,
    parts: Path | None,
    bar: tqdm,
) -> list[ReplicationResult]:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["sim.replication"])
    progress = ctx.Queue() if not bar.disable else None
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            try:
                bar.update(progress.get(timeout=0.1))
            except queue.Empty:
                continue

    listener = threading.Thread(target=pump, daemon=True) if progress is not None else None
    if listener is not None:
        listener.start()
    try:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(indices)),
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(progress,),
        ) as pool:
            tasks = [(scenario, seed, i, keep, parts) for i in indices]
            return list(pool.map(_run_one, tasks))
    finally:
        stop.set()
        if listener is not None:
            listener.join()
        if progress is not None:
            progress.close()
            progress.join_thread()
