"""The demand a scenario puts on the query-and-control network, from the simulation's event log.

The simulation knows the demand; a load test measures the supply. For each replication the
event log's rows inside the observation window ``[warmup_days, horizon_days)`` are mapped to
the logical requests they stand for (:mod:`sim.study.requests`; the load half says which
HTTP call carries each):

- ``file_case``: a matter to enforce enters the network (``filed``, ``restored``);
- ``query <channel>``: one request per case, channel and instant (the model's
  ``query_sent`` rows are one per agency; a channel answers its agencies together);
- ``control <action>``, online controls only (an in-person control never reaches the network
  and is counted apart): ``freeze`` (attempts: ``freeze``, ``freeze_waiting`` and
  ``freeze_failed``), ``renew`` (``freeze_renewed``), ``deduct`` and ``unfreeze``. A control
  is counted when the court sends it (the row's ``ordered_days``, in the court's office
  hours), not when the agency, having picked it up at its next poll, carries it out; a row
  with no order time (a release at closing, a provident fund's later yearly steps) is
  counted at its own time.

Simulated time is calendar time, so a count per simulated day is a count per day of wall
time. A deployment is sized by its busiest time, so the figures are those of a **working
day** (Monday to Friday, not a public holiday; a make-up working day counts as one): the
rate by hour of the day, the peak hour and its ratio to the day's 24-hour mean, and the peak
minute: the busiest minute of a mean working day, minute by minute, and its ratio to the
mean of its hour (work released when an office opens arrives in a burst, which the hour
hides; with few requests a minute, the largest of 1,440 noisy means is partly luck). Then
the mean day of each kind (working day, weekend, public holiday when the scenario has a
holiday calendar). Rates are
at **full volume**: a run at ``--scale F`` simulates ``F`` of the filings, and its counts
are divided by the volume kept (:attr:`LoadedScenario.volume_factor`), the scale stated
beside them. Each figure is a mean over replications with a 95% interval taken on the log
scale (:func:`sim.results.statistics.summarize_positive`), so no interval of a rate goes
below zero.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.model.events import Event, EventKind
from sim.results.statistics import Summary
from sim.results.statistics import summarize_positive as positive
from sim.scenario.loader import LoadedScenario
from sim.scenario.schema import AssetType, ChannelName, Scenario
from sim.study import requests as rq
from sim.study.day_kinds import DayKinds

SECONDS_PER_DAY = 86_400.0
MINUTES_PER_DAY = 1440
_CONTROL_EVENTS = {
    EventKind.freeze: "freeze",
    EventKind.freeze_waiting: "freeze",
    EventKind.freeze_failed: "freeze",
    EventKind.freeze_renewed: "renew",
    EventKind.deduct: "deduct",
    EventKind.unfreeze: "unfreeze",
}
_FILINGS = (EventKind.filed, EventKind.restored)


def request_names(scenario: Scenario) -> list[str]:
    """Every request the demand counts for ``scenario``, in the order tables show them."""
    return rq.names(c.value for c in scenario.channels)


@dataclass
class ReplicationDemand:
    """Counts of one replication inside the window."""

    window_days: float
    days: dict[str, int] = field(default_factory=dict)  # kind of day -> days in the window
    by_hour: dict[str, list[int]] = field(default_factory=dict)  # name -> 24, every day
    working_hours: dict[str, list[int]] = field(default_factory=dict)  # name -> 24, working days
    working_minutes: list[int] = field(default_factory=lambda: [0] * MINUTES_PER_DAY)
    by_day_kind: dict[str, int] = field(default_factory=dict)  # kind of day -> requests
    controls_by_asset: dict[tuple[str, str], int] = field(default_factory=dict)
    in_person: dict[tuple[str, str], int] = field(default_factory=dict)  # (action, asset)
    queries_by_region: dict[tuple[str, str], int] = field(default_factory=dict)
    busiest_hour_requests: int = 0  # requests in the busiest single hour of the window

    def total(self, name: str) -> int:
        return sum(self.by_hour.get(name, ()))

    @property
    def working_days(self) -> int:
        return self.days.get(DayKinds.WORKING, 0)


def count_demand(rows: Sequence[Event], scenario: Scenario) -> ReplicationDemand:
    """Map event rows (:class:`sim.model.events.Event`) to logical requests."""
    lo, hi = scenario.warmup_days, scenario.horizon_days
    calendar = DayKinds.of(scenario)
    out = ReplicationDemand(window_days=hi - lo, days=calendar.count(lo, hi))
    for name in request_names(scenario):
        out.by_hour[name] = [0] * 24
        out.working_hours[name] = [0] * 24
    online = _OnlineLinks(scenario)
    queries_seen: set[tuple[int, str, float]] = set()
    per_hour_slot: dict[int, int] = {}
    for row in rows:
        event = row.event
        t = row.time_days
        if row.ordered_days is not None and event in _CONTROL_EVENTS:
            t = row.ordered_days  # the court sends an online control when it orders it
        if not lo <= t < hi:
            continue
        if event in _FILINGS:
            name = rq.FILE_CASE
        elif event == EventKind.query_sent:
            channel = str(row.channel)
            key = (row.case_id, channel, t)
            if key in queries_seen:
                continue
            queries_seen.add(key)
            name = rq.query(channel)
            rk = (row.region, channel)
            out.queries_by_region[rk] = out.queries_by_region.get(rk, 0) + 1
        elif (action := _CONTROL_EVENTS.get(event)) is not None:
            asset = row.asset_type
            key2 = (action, asset)
            # deduction rows name no agency: the one holding the asset type's records
            agency = row.agency or scenario.holder_of(AssetType(asset)) or ""
            if not online(row.region, str(row.channel), agency, action):
                out.in_person[key2] = out.in_person.get(key2, 0) + 1
                continue
            name = rq.control(action)
            out.controls_by_asset[key2] = out.controls_by_asset.get(key2, 0) + 1
        else:
            continue
        day = math.floor(t)
        # an instant on a minute's edge (08:30 as day + 8.5/24) counts in that minute, not
        # in the one before it by a rounding error
        minute = min(int((t - day) * MINUTES_PER_DAY + 1e-6), MINUTES_PER_DAY - 1)
        hour = minute // 60
        out.by_hour[name][hour] += 1
        kind = calendar.kind(day)
        out.by_day_kind[kind] = out.by_day_kind.get(kind, 0) + 1
        if kind == DayKinds.WORKING:
            out.working_hours[name][hour] += 1
            out.working_minutes[minute] += 1
        slot = int(t * 24)
        per_hour_slot[slot] = per_hour_slot.get(slot, 0) + 1
    out.busiest_hour_requests = max(per_hour_slot.values(), default=0)
    return out


class _OnlineLinks:
    """Whether a control over a (region, channel, agency) link is done online (cached)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.cache: dict[tuple[str, str, str, str], bool] = {}

    def __call__(self, region: str, channel: str, agency: str, action: str) -> bool:
        key = (region, channel, agency, action)
        hit = self.cache.get(key)
        if hit is None:
            link = self.scenario.link(region, ChannelName(channel), agency)
            if link is None:
                hit = False
            else:
                hit = link.online_deduct if action == "deduct" else link.online_freeze
            self.cache[key] = hit
        return hit


def replication_demand(
    scenario: Scenario, seed: int, replication: int, progress: Callable[[float], None] | None
) -> ReplicationDemand:
    """Run one replication with its event log kept and count its demand."""
    from sim.engine.replication import run_once
    from sim.results.eventlog import EventLog

    _, log = run_once(scenario, seed, replication, keep_records=True, progress=progress)
    assert isinstance(log, EventLog)
    return count_demand(log.rows, scenario)


# ---------------------------------------------------------------- over replications


def _sig(v: float, digits: int = 6) -> float:
    """``v`` to ``digits`` significant digits (rates per second can be tiny)."""
    return float(f"{v:.{digits}g}")


def _summary_json(s: Summary, digits: int = 6) -> dict[str, Any]:
    def r(v: float) -> float | None:
        return None if v is None or math.isnan(v) else _sig(v, digits)

    return {"mean": r(s.mean), "ci95": [r(s.ci95[0]), r(s.ci95[1])], "n": s.n}


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def summarize_demand(
    loaded: LoadedScenario, seed: int, reps: Sequence[ReplicationDemand]
) -> dict[str, Any]:
    """The ``chakong demand --json`` object: rates per second at full volume, a working
    day's profile, its peak hour and peak minute, the kinds of day, the mix."""
    scenario = loaded.scenario
    names = request_names(scenario)
    window = reps[0].window_days
    volume = loaded.volume_factor
    per_second = 1.0 / (window * SECONDS_PER_DAY * volume)

    def over(f: Callable[[ReplicationDemand], float]) -> Summary:
        return positive(f(r) for r in reps)

    def working(r: ReplicationDemand, seconds: float) -> float:
        """Counts on working days -> rate per second over ``seconds`` of each working day."""
        return 1.0 / (max(r.working_days, 1) * seconds * volume)

    def hour_total(r: ReplicationDemand, h: int) -> int:
        return sum(r.working_hours[n][h] for n in names)

    def working_total(r: ReplicationDemand) -> int:
        return sum(r.working_minutes)

    requests: dict[str, Any] = {}
    for name in names:
        profile = [
            positive(r.working_hours[name][h] * working(r, 3600.0) for r in reps) for h in range(24)
        ]
        peak_hour = max(range(24), key=lambda h: profile[h].mean)
        requests[name] = {
            "per_day": _summary_json(positive(r.total(name) / window / volume for r in reps)),
            "per_second": _summary_json(positive(r.total(name) * per_second for r in reps)),
            "peak_hour": peak_hour,
            "peak_per_second": _summary_json(profile[peak_hour]),
            "share": _share_json(positive(_share(r, name, names) for r in reps)),
            "by_hour_per_second": [_sig(p.mean) for p in profile],
        }
    totals = [positive(hour_total(r, h) * working(r, 3600.0) for r in reps) for h in range(24)]
    peak = max(range(24), key=lambda h: totals[h].mean)
    day_mean = over(lambda r: working_total(r) * working(r, SECONDS_PER_DAY))
    # a mean working day minute by minute: its busiest minute is the peak minute
    minutes = np.mean([np.asarray(r.working_minutes) * working(r, 60.0) for r in reps], axis=0)
    peak_minute = int(np.argmax(minutes))
    all_requests = over(lambda r: sum(map(r.total, names)) * per_second)
    return {
        "scenario": scenario.name,
        "seed": seed,
        "replications": len(reps),
        "window_days": window,
        "window": _window_dates(scenario),
        "scale": loaded.scale,
        "volume_factor": volume,
        "unit": "requests per second of wall-clock time at full volume (simulated time is "
        "calendar time; a run at a scale is divided by the volume it kept)",
        "total": {
            "per_day": _summary_json(over(lambda r: sum(map(r.total, names)) / window / volume)),
            "per_second": _summary_json(all_requests),
            "peak_hour": peak,
            "peak_per_second": _summary_json(totals[peak]),
            "working_day_per_second": _summary_json(day_mean),
            "peak_to_mean": _summary_json(
                over(lambda r: _ratio(24 * hour_total(r, peak), working_total(r))), 4
            ),
            "peak_minute": _clock(peak_minute),
            "peak_minute_per_second": _summary_json(
                positive(r.working_minutes[peak_minute] * working(r, 60.0) for r in reps)
            ),
            "peak_minute_to_hour": _summary_json(
                over(
                    lambda r: _ratio(
                        60 * r.working_minutes[peak_minute],
                        sum(r.working_minutes[60 * (peak_minute // 60) :][:60]),
                    )
                ),
                4,
            ),
            "peak_hour_by_minute_per_second": [
                _sig(float(minutes[60 * peak + m])) for m in range(60)
            ],
            "within_hour_share": [round(x, 5) for x in _within_hour(reps)],
            "busiest_hour_per_second": _summary_json(
                over(lambda r: r.busiest_hour_requests / 3600.0 / volume)
            ),
            "by_hour_per_second": [_sig(t.mean) for t in totals],
            "by_day_kind": _by_day_kind(reps, volume),
        },
        "requests": requests,
        **_controls_and_channels(scenario, reps, window * volume),
    }


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _within_hour(reps: Sequence[ReplicationDemand]) -> list[float]:
    """Share of an hour's requests in each of its 60 minutes, working days, pooled."""
    counts = np.sum([np.reshape(r.working_minutes, (24, 60)).sum(axis=0) for r in reps], axis=0)
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def _by_day_kind(reps: Sequence[ReplicationDemand], volume: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in DayKinds.KINDS:
        days = reps[0].days.get(kind, 0)
        if not days:
            continue
        per_day = positive(r.by_day_kind.get(kind, 0) / r.days[kind] / volume for r in reps)
        out[kind] = {
            "days": days,
            "per_day": _summary_json(per_day),
            "per_second": _summary_json(
                Summary(
                    per_day.mean / SECONDS_PER_DAY,
                    (per_day.ci95[0] / SECONDS_PER_DAY, per_day.ci95[1] / SECONDS_PER_DAY),
                    per_day.n,
                )
            ),
        }
    return out


def _controls_and_channels(
    scenario: Scenario,
    reps: Sequence[ReplicationDemand],
    days: float,
) -> dict[str, Any]:
    controls: dict[str, dict[str, Any]] = {}
    in_person: dict[str, dict[str, Any]] = {}
    for target, attr in ((controls, "controls_by_asset"), (in_person, "in_person")):
        keys = sorted(
            {k for r in reps for k in getattr(r, attr)},
            key=lambda k: (rq.CONTROL_ACTIONS.index(k[0]), k[1]),
        )
        for action, asset in keys:
            s = positive(getattr(r, attr).get((action, asset), 0) / days for r in reps)
            target.setdefault(action, {})[asset] = _summary_json(s, 4)
    channel_share: dict[str, dict[str, float]] = {}
    for region in scenario.regions:
        counts = {
            c.value: sum(r.queries_by_region.get((region, c.value), 0) for r in reps)
            for c in scenario.channels
        }
        total = sum(counts.values())
        if total:
            channel_share[region] = {c: round(n / total, 4) for c, n in counts.items()}
    return {
        "controls_per_day_by_asset": controls,
        "in_person_controls_per_day_by_asset": in_person,
        "query_channel_share_by_region": channel_share,
    }


def _share(r: ReplicationDemand, name: str, names: Sequence[str]) -> float:
    total = sum(r.total(n) for n in names)
    return r.total(name) / total if total else math.nan


def _share_json(s: Summary) -> dict[str, Any]:
    """A share's summary: its interval on the log scale, capped at 1."""
    out = _summary_json(s, 4)
    if out["ci95"][1] is not None:
        out["ci95"][1] = min(out["ci95"][1], 1.0)
    return out


def _window_dates(scenario: Scenario) -> list[str]:
    """The first and last calendar day of the window."""
    first = scenario.start_date + dt.timedelta(days=math.floor(scenario.warmup_days))
    last = scenario.start_date + dt.timedelta(days=math.ceil(scenario.horizon_days) - 1)
    return [first.isoformat(), last.isoformat()]


def run_demand(
    loaded: LoadedScenario,
    *,
    seed: int,
    replications: int,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run ``replications`` (in this process, each with its event log) and summarise."""
    from sim.engine.runner import progress_bar

    scenario = loaded.scenario
    reps = []
    with progress_bar(
        scenario.horizon_days * replications,
        f"{scenario.name}: demand, {replications} replication(s)",
        show_progress,
    ) as update:
        for i in range(replications):
            reps.append(replication_demand(scenario, seed, i, update if show_progress else None))
    return summarize_demand(loaded, seed, reps)
