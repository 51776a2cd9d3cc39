"""The shape every study takes: replicate, write the results folder atomically, finish.

:func:`replicate` runs scenarios together (common random numbers) for the settings'
replications, or until the precision rule is satisfied, and summarises each scenario.
:func:`conduct` runs a study and, when it writes, puts its results folder in place whole
or not at all: the study's own files first, then the caller's ``finish`` hook (the command
line and the Python API pass the report's, :func:`sim.reporting.build.finish`), all inside
a temporary folder renamed when complete. The study never builds its report itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from sim.engine.executors import Executor
from sim.engine.runner import run_group
from sim.results.folders import check_destination, default_results_dir, results_folder
from sim.results.replication import ReplicationResult
from sim.results.statistics import Summary, summarize_all
from sim.scenario.schema import Scenario
from sim.study.precision import PrecisionOutcome
from sim.study.settings import Settings

Finish = Callable[[Path], None]
"""Called with the complete folder before it is put in place (e.g. to add the report)."""


@dataclass(frozen=True)
class Folder:
    """Whether and where a study writes its results folder, and the caller's finish hook."""

    out: Path | None = None  # None: results/<name>/<UTC time>/
    write: bool = True
    finish: Finish | None = None


NO_FOLDER = Folder(write=False)


@dataclass(frozen=True)
class Stamp:
    """When a study began: the manifest's start time and wall seconds."""

    started: dt.datetime
    began: float

    @classmethod
    def now(cls) -> Stamp:
        return cls(dt.datetime.now(dt.UTC), time.perf_counter())

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self.began


@dataclass
class Replicated:
    """Scenarios run together: ``results[k][i]`` is replication ``i`` of scenario ``k``."""

    results: list[list[ReplicationResult]]
    summaries: list[dict[str, Summary]]
    precision: PrecisionOutcome | None


def replicate(
    executor: Executor,
    scenarios: Sequence[Scenario],
    settings: Settings,
    *,
    labels: Sequence[str] | None = None,
    keep_records: bool = False,
    parts_dirs: Sequence[Path | None] | None = None,
) -> Replicated:
    """Run every scenario with the settings' seed, for its replications or, with a
    precision rule, as many as the replication algorithm asks for."""
    stopping = settings.stopping()
    group = run_group(
        executor,
        scenarios,
        settings.seed,
        settings.replications,
        until=stopping,
        keep_records=keep_records,
        parts_dirs=parts_dirs,
        show_progress=settings.progress,
        labels=labels,
        note=stopping.note if stopping is not None else "",
    )
    summaries = [summarize_all([r.metrics for r in reps]) for reps in group.results]
    return Replicated(group.results, summaries, stopping.outcome if stopping else None)


class Outcome(Protocol):
    out_dir: Path | None


OutcomeT = TypeVar("OutcomeT", bound=Outcome)


def conduct(
    run: Callable[[Path | None], OutcomeT],
    write: Callable[[Path, OutcomeT, Stamp], None],
    folder: Folder,
    default_name: str,
) -> OutcomeT:
    """Run a study: ``run(tmp)`` (``tmp`` receives record parts as the replications write
    them; None when nothing is written). When ``folder.write``, the results folder
    (``folder.out``, or ``results/<default_name>/<UTC time>/``, which must be new) is
    written by ``write(tmp, outcome, stamp)`` and then ``folder.finish(tmp)``, and put in
    place only when both are done."""
    stamp = Stamp.now()
    if not folder.write:
        return run(None)
    destination = folder.out if folder.out is not None else default_results_dir(default_name)
    check_destination(destination)
    with results_folder(destination) as tmp:
        outcome = run(tmp)
        outcome.out_dir = destination
        write(tmp, outcome, stamp)
        if folder.finish is not None:
            folder.finish(tmp)
    return outcome
