"""The demand a scenario puts on the query-and-control API, from the simulation's event log.

The simulation knows the demand; a load test measures the supply. For each replication the
event log's rows inside the observation window ``[warmup_days, horizon_days)`` are mapped to
the API requests they stand for:

- ``POST /v1/cases``: a matter to enforce enters the network (``filed``, ``restored``);
- ``POST /v1/queries`` by channel: one API query per case, channel and instant (the model's
  ``query_sent`` rows are one per agency; the API answers a channel's agencies together);
- ``POST /v1/controls`` by action and asset type, online controls only (an in-person
  control never reaches the API and is counted apart): ``freeze`` (attempts: ``freeze``,
  ``freeze_waiting`` and ``freeze_failed``), ``renew`` (``freeze_renewed``), ``deduct`` and
  ``unfreeze``.

Simulated time is calendar time, so a count per simulated day is a count per day of wall
time: rates are per second, overall and by hour of day (the event's ``time_days`` fraction
gives the hour; courts work office hours, so the peak hour is what a deployment is sized
by). Each figure is a mean over replications with a 95% t-interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.model.events import Event, EventKind
from sim.results.statistics import Summary, summarize
from sim.scenario.loader import LoadedScenario
from sim.scenario.schema import AssetType, ChannelName, Scenario

SECONDS_PER_DAY = 86_400.0
CASES = "POST /v1/cases"
QUERIES = "POST /v1/queries"
CONTROLS = "POST /v1/controls"
CONTROL_ACTIONS = ("freeze", "renew", "deduct", "unfreeze")
_CONTROL_EVENTS = {
    EventKind.freeze: "freeze",
    EventKind.freeze_waiting: "freeze",
    EventKind.freeze_failed: "freeze",
    EventKind.freeze_renewed: "renew",
    EventKind.deduct: "deduct",
    EventKind.unfreeze: "unfreeze",
}
_FILINGS = (EventKind.filed, EventKind.restored)


def request_kind(endpoint: str, detail: str = "") -> str:
    """The name of a request kind: ``POST /v1/queries central``, ``POST /v1/controls deduct``."""
    return f"{endpoint} {detail}".strip()


def request_kinds(scenario: Scenario) -> list[str]:
    """Every kind of request the demand counts, in the order tables show them."""
    return [
        CASES,
        *(request_kind(QUERIES, c.value) for c in scenario.channels),
        *(request_kind(CONTROLS, a) for a in CONTROL_ACTIONS),
    ]


@dataclass
class ReplicationDemand:
    """Counts of one replication inside the window."""

    window_days: float
    by_hour: dict[str, list[int]] = field(default_factory=dict)  # kind -> 24 counts
    controls_by_asset: dict[tuple[str, str], int] = field(default_factory=dict)
    in_person: dict[tuple[str, str], int] = field(default_factory=dict)  # (action, asset)
    queries_by_region: dict[tuple[str, str], int] = field(default_factory=dict)
    busiest_hour_requests: int = 0  # requests in the busiest single hour of the window

    def total(self, kind: str) -> int:
        return sum(self.by_hour.get(kind, ()))


def count_demand(rows: Sequence[Event], scenario: Scenario) -> ReplicationDemand:
    """Map event rows (:class:`sim.model.events.Event`) to API requests."""
    lo, hi = scenario.warmup_days, scenario.horizon_days
    out = ReplicationDemand(window_days=hi - lo)
    for kind in request_kinds(scenario):
        out.by_hour[kind] = [0] * 24
    online = _OnlineLinks(scenario)
    queries_seen: set[tuple[int, str, float]] = set()
    per_hour_slot: dict[int, int] = {}
    for row in rows:
        t = row.time_days
        if not lo <= t < hi:
            continue
        event = row.event
        if event in _FILINGS:
            kind = CASES
        elif event == EventKind.query_sent:
            channel = str(row.channel)
            key = (row.case_id, channel, t)
            if key in queries_seen:
                continue
            queries_seen.add(key)
            kind = request_kind(QUERIES, channel)
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
            kind = request_kind(CONTROLS, action)
            out.controls_by_asset[key2] = out.controls_by_asset.get(key2, 0) + 1
        else:
            continue
        hour = min(int((t % 1.0) * 24), 23)
        out.by_hour[kind][hour] += 1
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


def summarize_demand(
    loaded: LoadedScenario, seed: int, reps: Sequence[ReplicationDemand]
) -> dict[str, Any]:
    """The ``chakong demand --json`` object: rates per second, by hour, the mix."""
    scenario = loaded.scenario
    kinds = request_kinds(scenario)
    window = reps[0].window_days
    per_second = 1.0 / (window * SECONDS_PER_DAY)
    per_hour_second = 1.0 / (window * 3600.0)

    def over(f: Callable[[ReplicationDemand], float]) -> Summary:
        return summarize(f(r) for r in reps)

    def hourly_total(r: ReplicationDemand) -> list[int]:
        return [sum(r.by_hour[k][h] for k in kinds) for h in range(24)]

    requests: dict[str, Any] = {}
    for kind in kinds:
        profile = [
            over(lambda r, k=kind, h=h: r.by_hour[k][h] * per_hour_second) for h in range(24)
        ]
        peak_hour = max(range(24), key=lambda h: profile[h].mean)
        requests[kind] = {
            "per_day": _summary_json(over(lambda r, k=kind: r.total(k) / window)),
            "per_second": _summary_json(over(lambda r, k=kind: r.total(k) * per_second)),
            "peak_hour": peak_hour,
            "peak_per_second": _summary_json(profile[peak_hour]),
            "share": _summary_json(over(lambda r, k=kind: _share(r, k, kinds)), 4),
            "by_hour_per_second": [_sig(p.mean) for p in profile],
        }
    totals = [over(lambda r, h=h: hourly_total(r)[h] * per_hour_second) for h in range(24)]
    peak = max(range(24), key=lambda h: totals[h].mean)
    controls: dict[str, dict[str, Any]] = {}
    in_person: dict[str, dict[str, Any]] = {}
    for target, attr in ((controls, "controls_by_asset"), (in_person, "in_person")):
        keys = sorted(
            {k for r in reps for k in getattr(r, attr)},
            key=lambda k: (CONTROL_ACTIONS.index(k[0]), k[1]),
        )
        for action, asset in keys:
            s = over(lambda r, k=(action, asset), a=attr: getattr(r, a).get(k, 0) / window)
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
        "scenario": scenario.name,
        "seed": seed,
        "replications": len(reps),
        "window_days": window,
        "unit": "requests per second of wall-clock time (simulated time is calendar time)",
        "total": {
            "per_second": _summary_json(over(lambda r: sum(map(r.total, kinds)) * per_second)),
            "peak_hour": peak,
            "peak_per_second": _summary_json(totals[peak]),
            "busiest_hour_per_second": _summary_json(
                over(lambda r: r.busiest_hour_requests / 3600.0)
            ),
            "by_hour_per_second": [_sig(t.mean) for t in totals],
        },
        "requests": requests,
        "controls_per_day_by_asset": controls,
        "in_person_controls_per_day_by_asset": in_person,
        "query_channel_share_by_region": channel_share,
    }


def _share(r: ReplicationDemand, kind: str, kinds: Sequence[str]) -> float:
    total = sum(r.total(k) for k in kinds)
    return r.total(kind) / total if total else math.nan


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


def format_demand(d: dict[str, Any]) -> str:
    """The readable table of ``chakong demand``."""
    lines = [
        f"{d['scenario']}: demand on the query API, {d['replications']} replication(s), "
        f"seed {d['seed']}, window {d['window_days']:g} days",
        "",
    ]
    header = ("request", "per day", "mean /s", "peak hour", "peak /s", "share")
    rows = [header]
    for kind, r in d["requests"].items():
        rows.append(
            (
                kind,
                _num(r["per_day"]["mean"], 1),
                _num(r["per_second"]["mean"], 5),
                f"{r['peak_hour']:02d}:00",
                _num(r["peak_per_second"]["mean"], 5),
                _pct(r["share"]["mean"]),
            )
        )
    t = d["total"]
    rows.append(
        (
            "all requests",
            _num(t["per_second"]["mean"] * SECONDS_PER_DAY, 1),
            _num(t["per_second"]["mean"], 5),
            f"{t['peak_hour']:02d}:00",
            _num(t["peak_per_second"]["mean"], 5),
            "100.0%",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if i == 0 or i == len(rows) - 2:
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    lines += [
        "",
        f"busiest single hour of the window: "
        f"{_num(t['busiest_hour_per_second']['mean'], 5)} requests/s",
        "controls per day by asset type (online; in person apart):",
    ]
    for action, assets in d["controls_per_day_by_asset"].items():
        cells = ", ".join(f"{a} {_num(s['mean'], 1)}" for a, s in assets.items())
        lines.append(f"  {action:<9} {cells}")
    for action, assets in d["in_person_controls_per_day_by_asset"].items():
        cells = ", ".join(f"{a} {_num(s['mean'], 1)}" for a, s in assets.items())
        lines.append(f"  {action:<9} in person: {cells}")
    lines.append(
        "query channel share by region: "
        + "; ".join(
            f"{reg} " + ", ".join(f"{c} {100 * s:.0f}%" for c, s in shares.items())
            for reg, shares in d["query_channel_share_by_region"].items()
        )
    )
    return "\n".join(lines)


def _num(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"
