"""One replication: build the world from a scenario and a seed, run it, collect results.

:func:`single_run` is a pure function of (scenario, seed, replication index): the same
arguments give the same result in any process, which is what lets replications run in
parallel with results independent of the number of workers.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sim.engine.hugepages import use_huge_pages
from sim.model.events import Event, EventKind
from sim.model.streams import Streams
from sim.model.world import World
from sim.results.eventlog import EventLog
from sim.results.observer import Observer
from sim.results.records import write_cases, write_events
from sim.results.replication import ReplicationResult
from sim.scenario.schema import Scenario


def run_once(
    scenario: Scenario,
    seed: int,
    replication: int,
    keep_records: bool = False,
    progress: Callable[[float], None] | None = None,
) -> tuple[World, Observer]:
    """Run one replication; the observer is an :class:`EventLog` when records are kept."""
    use_huge_pages()  # where objects lie, not what they hold: the same bits
    horizon = scenario.horizon_days
    regions = len(scenario.regions)
    observer = (
        EventLog(scenario.warmup_days, horizon, replication=replication, regions=regions)
        if keep_records
        else Observer(scenario.warmup_days, horizon, regions=regions)
    )
    world = World(scenario, Streams(seed, replication), observer, progress)
    observer.available_officer_days = world.available_officer_days
    observer.officers = sum(r.effective_officers for r in scenario.regions.values())
    # The model makes no cyclic garbage as it runs (memory peaks are the same with the
    # collector off), while full collections rescan every live case and pool member:
    # switched off, a national run is about 30% faster.
    collecting = gc.isenabled()
    gc.disable()
    try:
        world.run()
    finally:
        if collecting:
            gc.enable()
    observer.finish()
    return world, observer


def single_run(
    scenario: Scenario,
    seed: int,
    replication: int,
    keep_records: bool = False,
    parts_dir: Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> ReplicationResult:
    """Run one replication. With ``keep_records`` and ``parts_dir``, its per-case rows and
    its event log (in time order, up to the horizon) are written there as CSV parts."""
    began = time.perf_counter()
    world, obs = run_once(scenario, seed, replication, keep_records, progress)
    files: dict[str, str] = {}
    by_agency: dict[tuple[str, str], list[int]] = {}
    if isinstance(obs, EventLog):
        by_agency = agency_queries_by_hour(obs.rows, scenario)
        if parts_dir is not None:
            horizon = scenario.horizon_days
            cases = parts_dir / f"cases.{replication:05d}.csv"
            write_cases(cases, obs.all_case_rows(), header=False)
            events = parts_dir / f"events.{replication:05d}.csv"
            write_events(events, (r for r in obs.sorted_rows() if r.time_days < horizon), False)
            files = {"cases": str(cases), "events": str(events)}
    return observed(obs, replication, world.filed_total, began, files, by_agency)


def observed(
    obs: Observer,
    replication: int,
    cases_filed: int,
    began: float,
    files: dict[str, str] | None = None,
    by_agency: dict[tuple[str, str], list[int]] | None = None,
) -> ReplicationResult:
    """One replication's result from its observer (after :meth:`Observer.finish`), begun
    at ``began`` (``time.perf_counter``)."""
    return ReplicationResult(
        replication=replication,
        metrics=obs.metrics(),
        backlog_times=obs.backlog_times,
        backlog_counts=obs.backlog_counts,
        pool_counts=obs.pool_counts,
        close_days_hist=obs.close_days_hist,
        cases_filed=cases_filed,
        wall_seconds=time.perf_counter() - began,
        files=files or {},
        recovery_days_hist=obs.recovery_days_hist,
        queries_by_hour=obs.queries_by_hour,
        agency_queries_by_hour=by_agency or {},
    )


def agency_queries_by_hour(
    rows: Iterable[Event], scenario: Scenario
) -> dict[tuple[str, str], list[int]]:
    """Requests sent inside the observation window, by (channel, agency) and hour of day,
    counted from the event log's ``query_sent`` rows."""
    lo, hi = scenario.warmup_days, scenario.horizon_days
    counts: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        t = row.time_days
        if row.event is not EventKind.query_sent or not lo <= t < hi:
            continue
        key = (row.channel, row.agency)
        hours = counts.get(key)
        if hours is None:
            hours = counts[key] = [0] * 24
        hours[min(int((t % 1.0) * 24), 23)] += 1
    return counts
