"""Replications: seeds -> independent runs -> results in replication order.

Replication ``i`` of a run with seed ``s`` always uses the streams of (``s``, ``i``), so the
results do not depend on how many workers ran them, on which executor (local processes or
Dask, see :mod:`sim.engine.executors`), or in which order they finished. A group of scenarios run
together (a comparison, a sweep) gives replication ``i`` of every scenario the same seed
and index: common random numbers. A progress bar on stderr counts simulated days.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from sim.engine.executors import Executor, LocalExecutor, Task
from sim.engine.replication import ReplicationResult
from sim.scenario.schema import Scenario
from sim.study.precision import PrecisionOutcome, PrecisionRule, Sequential, judge


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
    scenario ``k``; ``precision`` says why a precision-driven run stopped."""

    results: list[list[ReplicationResult]]
    precision: PrecisionOutcome | None = None

    @property
    def replications(self) -> int:
        return len(self.results[0]) if self.results else 0


def run_group(
    executor: Executor,
    scenarios: Sequence[Scenario],
    seed: int,
    replications: int,
    *,
    precision: PrecisionRule | None = None,
    keep_records: bool = False,
    parts_dirs: Sequence[Path | None] | None = None,
    show_progress: bool = True,
    labels: Sequence[str] | None = None,
) -> GroupRun:
    """Run every scenario with the same seed and replication indices (common random
    numbers): ``replications`` of each, or, with ``precision``, as many as the replication
    algorithm asks for (see :mod:`sim.study.precision`)."""
    dirs = list(parts_dirs) if parts_dirs is not None else [None] * len(scenarios)
    names = list(labels) if labels is not None else [s.name for s in scenarios]
    desc = names[0] if len(names) == 1 else f"{len(names)} scenarios"

    def batch(first: int, count: int, note: str = "") -> list[list[ReplicationResult]]:
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

    if precision is None:
        return GroupRun(batch(0, replications))

    rule = precision
    done: list[list[ReplicationResult]] = [[] for _ in scenarios]
    algorithm = Sequential(rule)
    judgement: list = []
    n = 0
    note = f" (precision {100 * rule.target:g}%, cap {rule.max_replications})"
    while True:
        count = algorithm.next_batch(n, executor.parallelism, judgement)
        for k, more in enumerate(batch(n, count, note)):
            done[k].extend(more)
        for m in range(max(n + 1, rule.initial), n + count + 1):
            judgement = judge(
                [
                    (name, [r.metrics for r in reps[:m]])
                    for name, reps in zip(names, done, strict=True)
                ],
                rule,
            )
            if algorithm.step(m, judgement):
                _discard(done, m)
                assert algorithm.outcome is not None
                return GroupRun(done, algorithm.outcome)
        n += count


def _discard(done: list[list[ReplicationResult]], keep: int) -> None:
    """Drop replications run ahead but not needed, and their record parts."""
    for reps in done:
        for r in reps[keep:]:
            for path in r.files.values():
                Path(path).unlink(missing_ok=True)
        del reps[keep:]
