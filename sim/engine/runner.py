"""Replications: seeds -> independent runs -> results in replication order.

Replication ``i`` of a run with seed ``s`` always uses the streams of (``s``, ``i``), so the
results do not depend on how many workers ran them, on which executor (local processes or
Dask, see :mod:`sim.engine.executors`), or in which order they finished. A group of scenarios run
together (a comparison, a sweep) gives replication ``i`` of every scenario the same seed
and index: common random numbers. A progress bar on stderr counts simulated days.

How many replications a group runs is fixed, or decided replication by replication by a
:class:`StoppingRule` (the precision rule of :mod:`sim.study.precision`), always in index
order, so the number of workers never changes the answer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from sim.engine.executors import Executor, LocalExecutor, Task
from sim.results.replication import ReplicationResult
from sim.scenario.schema import Scenario

Groups = Sequence[tuple[str, Sequence[Mapping[str, float]]]]
"""Each scenario's name and the metrics of its replications so far, in index order."""


class StoppingRule(Protocol):
    """Decides how many replications a group runs (:class:`sim.study.precision.Sequential`)."""

    def batch(self, done: int, parallelism: int) -> int:
        """How many replications to run next, ``done`` having run (surplus is discarded)."""
        ...

    def enough(self, n: int, groups: Groups) -> bool:
        """Whether the first ``n`` replications of every scenario are enough."""
        ...


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def progress_bar(total_days: float, desc: str, show: bool) -> Iterator[Callable[[float], None]]:
    """A tqdm bar on stderr counting simulated days; yields its update function."""
    bar = tqdm(
        total=round(total_days),
        unit="day",
        desc=desc,
        disable=not show,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        bar_format="{desc} |{bar}| {percentage:3.0f}% simulated days [{elapsed}<{remaining}]",
    )
    try:
        yield bar.update
    finally:
        bar.close()


def run_replications(
    scenario: Scenario,
    seed: int,
    replications: int,
    workers: int = 1,
    keep_records: bool = False,
    parts_dir: Path | None = None,
    show_progress: bool = True,
    first_replication: int = 0,
    executor: Executor | None = None,
) -> list[ReplicationResult]:
    """Run replications ``first_replication .. first_replication + replications - 1``
    (on ``executor`` when given, else on ``workers`` local processes)."""
    indices = range(first_replication, first_replication + replications)
    tasks = [Task(scenario, seed, i, keep_records, parts_dir) for i in indices]
    own = executor is None
    ex = executor if executor is not None else LocalExecutor(min(workers, replications))
    try:
        with progress_bar(
            scenario.horizon_days * replications,
            f"{scenario.name}: {replications} replications",
            show_progress,
        ) as update:
            return ex.run(tasks, update if show_progress else None)
    finally:
        if own:
            ex.close()


@dataclass
class GroupRun:
    """Replications of scenarios run together: ``results[k][i]`` is replication ``i`` of
    scenario ``k``."""

    results: list[list[ReplicationResult]]

    @property
    def replications(self) -> int:
        return len(self.results[0]) if self.results else 0


def run_group(
    executor: Executor,
    scenarios: Sequence[Scenario],
    seed: int,
    replications: int,
    *,
    until: StoppingRule | None = None,
    keep_records: bool = False,
    parts_dirs: Sequence[Path | None] | None = None,
    show_progress: bool = True,
    labels: Sequence[str] | None = None,
    note: str = "",
) -> GroupRun:
    """Run every scenario with the same seed and replication indices (common random
    numbers): ``replications`` of each, or, with ``until``, as many as it asks for."""
    dirs = list(parts_dirs) if parts_dirs is not None else [None] * len(scenarios)
    names = list(labels) if labels is not None else [s.name for s in scenarios]
    desc = names[0] if len(names) == 1 else f"{len(names)} scenarios"

    def batch(first: int, count: int) -> list[list[ReplicationResult]]:
        tasks = [
            Task(s, seed, i, keep_records, d)
            for s, d in zip(scenarios, dirs, strict=True)
            for i in range(first, first + count)
        ]
        span = f"replications {first + 1}-{first + count}" if first else f"{count} replications"
        with progress_bar(
            sum(t.scenario.horizon_days for t in tasks), f"{desc}: {span}{note}", show_progress
        ) as update:
            flat = executor.run(tasks, update if show_progress else None)
        return [flat[k * count : (k + 1) * count] for k in range(len(scenarios))]

    if until is None:
        return GroupRun(batch(0, replications))

    done: list[list[ReplicationResult]] = [[] for _ in scenarios]
    n = 0
    while True:
        count = until.batch(n, executor.parallelism)
        for k, more in enumerate(batch(n, count)):
            done[k].extend(more)
        for m in range(n + 1, n + count + 1):
            groups = [
                (name, [r.metrics for r in reps[:m]])
                for name, reps in zip(names, done, strict=True)
            ]
            if until.enough(m, groups):
                _discard(done, m)
                return GroupRun(done)
        n += count


def _discard(done: list[list[ReplicationResult]], keep: int) -> None:
    """Drop replications run ahead but not needed, and their record parts."""
    for reps in done:
        for r in reps[keep:]:
            for path in r.files.values():
                Path(path).unlink(missing_ok=True)
        del reps[keep:]
