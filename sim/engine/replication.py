"""One replication: build the world from a scenario and a seed, run it, collect results.

:func:`single_run` is a pure function of (scenario, seed, replication index): the same
arguments give the same result in any process, which is what lets replications run in
parallel with results independent of the number of workers.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sim.model.streams import Streams
from sim.model.world import World
from sim.results.records import CASE_COLUMNS, EVENT_COLUMNS, write_csv, write_events
from sim.scenario.schema import Scenario


@dataclass
class ReplicationResult:
    replication: int
    metrics: dict[str, float]
    backlog_times: list[float]
    backlog_counts: list[int]
    pool_counts: list[int]
    close_days_hist: list[int]
    cases_filed: int  # all cases filed, warm-up included
    wall_seconds: float
    files: dict[str, str] = field(default_factory=dict)  # part files written, by kind
    recovery_days_hist: list[int] = field(default_factory=list)  # recovering cases per day
    queries_by_hour: dict[str, list[int]] = field(default_factory=dict)  # channel -> 24 counts
    # (channel, agency) -> requests sent in each hour of the day; from the event log, so only
    # when records are kept
    agency_queries_by_hour: dict[tuple[str, str], list[int]] = field(default_factory=dict)


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
    world = World(scenario, Streams(seed, replication), keep_records, progress)
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
    files: dict[str, str] = {}
    by_agency = _agency_queries_by_hour(world.log.rows, scenario) if keep_records else {}
    if keep_records and parts_dir is not None:
        horizon = scenario.horizon_days
        cases = parts_dir / f"cases.{replication:05d}.csv"
        write_csv(cases, CASE_COLUMNS, world.case_rows + world.open_case_rows(), header=False)
        events = parts_dir / f"events.{replication:05d}.csv"
        rows = (r for r in world.log.sorted_rows() if r[1] < horizon)
        write_events(events, rows, header=False)
        files = {"cases": str(cases), "events": str(events)}
    obs = world.observer
    return ReplicationResult(
        replication=replication,
        metrics=obs.metrics(),
        backlog_times=obs.backlog_times,
        backlog_counts=obs.backlog_counts,
        pool_counts=obs.pool_counts,
        close_days_hist=obs.close_days_hist,
        cases_filed=world._next_id,
        wall_seconds=time.perf_counter() - began,
        files=files,
        recovery_days_hist=obs.recovery_days_hist,
        queries_by_hour=obs.queries_by_hour,
        agency_queries_by_hour=by_agency,
    )


def _agency_queries_by_hour(
    rows: list[tuple], scenario: Scenario
) -> dict[tuple[str, str], list[int]]:
    """Requests sent inside the observation window, by (channel, agency) and hour of day,
    counted from the event log's ``query_sent`` rows."""
    lo, hi = scenario.warmup_days, scenario.horizon_days
    col = {name: i for i, name in enumerate(EVENT_COLUMNS)}
    t, event, channel, agency = col["time_days"], col["event"], col["channel"], col["agency"]
    counts: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        if row[event] != "query_sent" or not lo <= row[t] < hi:
            continue
        key = (row[channel], row[agency])
        hours = counts.get(key)
        if hours is None:
            hours = counts[key] = [0] * 24
        hours[min(int((row[t] % 1.0) * 24), 23)] += 1
    return counts
