"""The plan of a load run: everything the Locust processes need, as one JSON file.

``chakong load`` builds the plan in its own process (no Locust, no gevent there) from the
scenario, the simulated demand (:mod:`sim.study.demand`), the API's fixtures and the target
adapter, and writes it for the Locust processes (:mod:`load.generator.plan_file`).

- **Rate and shape.** The target is ``--rate`` or the simulated peak-hour request rate times
  the demand multiplier; the shape (:mod:`load.harness.shapes`) turns it into constant-rate
  segments, split evenly over the worker processes.
- **Mix.** Logical requests weighted by the simulated shares (``chakong demand``; the
  simulation names its requests, :data:`SIMULATED` says which of ours and which HTTP call
  carries each), plus
  ``poll_query`` (``polls_per_query`` per query sent, which the simulation does not
  predict), ``poll_control`` (polls per control derived from the scenario's control latency
  and the adapter's poll interval, :mod:`load.harness.polls`: not simulated either) and
  ``read_case`` (``reads_per_case``); what the adapter cannot send is left out, with a
  note.
- **Courts.** A court is picked with a weight proportional to its region's filing rate
  (``arrival_rate_per_day`` times the mean monthly factor) over the region's courts; a case
  goes to a debtor of the court's region, its claim drawn from the region's ``claim_yuan``.
- **Priming.** How much state each worker builds before its clock starts
  (:func:`prime_for`), so every logical request runs at its own rate from the start.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from load.api import paths
from load.generator.plan_file import CourtPlan, Plan, Prime, RegionPlan
from load.harness import polls
from load.target import logical as lr
from load.target.adapter import Adapter
from sim.errors import UserError
from sim.model.streams import sampler
from sim.scenario.schema import ChannelName, Scenario
from sim.study import requests as rq

CLAIM_SAMPLES = 512  # claims drawn per region for the generator to cycle through

SIMULATED: dict[str, tuple[str, str]] = {
    rq.FILE_CASE: (lr.FILE_CASE, f"POST {paths.CASES}"),
    **{rq.query(c): (lr.SEND_QUERY, f"POST {paths.QUERIES} {c.value}") for c in ChannelName},
    **{rq.control(a): (a, f"POST {paths.CONTROLS} {a}") for a in rq.CONTROL_ACTIONS},
}
"""The simulation's request (:mod:`sim.study.requests`) -> (our logical request, the
reference API's HTTP call: method, path and the channel or action in its body)."""


# ---------------------------------------------------------------- fixtures


def read_fixtures(path: Path) -> dict[str, Any]:
    """The API's fixtures file, checked: one clear line per problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--fixtures {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"--fixtures {path}: not a readable JSON file ({exc})") from None
    problems = []
    if not isinstance(data, dict):
        raise UserError(f"--fixtures {path}: expected a JSON object")
    for key, kind in (("courts", dict), ("debtors", list)):
        if not isinstance(data.get(key), kind):
            problems.append(f"--fixtures {path}: '{key}' missing or not a {kind.__name__}")
    if "admin_token" in data and not isinstance(data["admin_token"], str):
        problems.append(f"--fixtures {path}: 'admin_token' is not a string")
    if problems:
        raise UserError(problems)
    for cid, court in data["courts"].items():
        if not isinstance(court, dict) or not {"token", "region"} <= set(court):
            raise UserError(f"--fixtures {path}: courts.{cid}: needs 'token' and 'region'")
    for i, d in enumerate(data["debtors"]):
        if not isinstance(d, dict) or not {"debtor_id", "region"} <= set(d):
            raise UserError(f"--fixtures {path}: debtors[{i}]: needs 'debtor_id' and 'region'")
    if not data["courts"] or not data["debtors"]:
        raise UserError(f"--fixtures {path}: needs at least one court and one debtor")
    return data


# ---------------------------------------------------------------- building


def target_rate(
    scenario: Scenario, demand: dict[str, Any], rate: float | None, multiplier: float | None
) -> float:
    """``rate`` if given, else the simulated peak-hour rate times the multiplier."""
    if rate is not None:
        return rate
    m = multiplier if multiplier is not None else scenario.load.demand_multiplier
    if scenario.load.rate_per_second is not None and multiplier is None:
        return scenario.load.rate_per_second
    peak = demand["total"]["peak_per_second"]["mean"] or 0.0
    if peak <= 0:
        raise UserError(
            f"{scenario.name}: the simulation predicts no requests to the API; give --rate"
        )
    return peak * m


def logical_shares(demand: dict[str, Any]) -> dict[str, float]:
    """The simulation's shares by logical request (queries over every channel together)."""
    out: dict[str, float] = {}
    for kind, v in demand["requests"].items():
        if kind not in SIMULATED:
            continue
        name = SIMULATED[kind][0]
        out[name] = out.get(name, 0.0) + (v["share"]["mean"] or 0.0)
    return out


def build_mix(
    predicted: dict[str, float],
    polls_per_query: float,
    reads_per_case: float = 0.0,
    supported: Collection[str] = lr.LOGICAL,
    polls_per_control: float = 0.0,
) -> tuple[dict[str, float], list[str]]:
    """Logical request -> weight: the simulated shares plus polls (and reads), normalised,
    without what the adapter cannot send; and a note for each request left out."""
    weights = {k: s for k, s in predicted.items() if s > 0}
    query = weights.get(lr.SEND_QUERY, 0.0)
    if polls_per_query > 0 and query > 0:
        weights[lr.POLL_QUERY] = polls_per_query * query
    controls = sum(weights.get(c, 0.0) for c in lr.CONTROLS if c in supported)
    if polls_per_control > 0 and controls > 0 and lr.POLL_CONTROL in supported:
        weights[lr.POLL_CONTROL] = polls_per_control * controls
    cases = weights.get(lr.FILE_CASE, 0.0)
    if reads_per_case > 0 and cases > 0:
        weights[lr.READ_CASE] = reads_per_case * cases
    notes = []
    total = sum(weights.values())
    for k in [k for k in weights if k not in supported]:
        notes.append(
            f"the adapter has no {k}: its {100 * weights[k] / total:.1f}% of the mix is left out"
        )
        del weights[k]
    total = sum(weights.values())
    if total <= 0:
        return {lr.FILE_CASE: 1.0}, notes
    return {k: w / total for k, w in weights.items()}, notes


def courts_and_regions(
    scenario: Scenario, fixtures: dict[str, Any], demand: dict[str, Any], seed: int
) -> tuple[list[CourtPlan], dict[str, RegionPlan]]:
    by_region: dict[str, list[str]] = {}
    for cid, c in fixtures["courts"].items():
        by_region.setdefault(c["region"], []).append(cid)
    unknown = sorted(set(by_region) - set(scenario.regions))
    if unknown:
        raise UserError(
            f"fixtures: courts in regions the scenario does not have: {', '.join(unknown)}"
        )
    debtors: dict[str, list[str]] = {}
    for d in fixtures["debtors"]:
        debtors.setdefault(d["region"], []).append(str(d["debtor_id"]))
    everyone = [str(d["debtor_id"]) for d in fixtures["debtors"]]
    overall = _overall_channel_share(demand)
    courts, regions = [], {}
    rng = np.random.default_rng(seed)
    for region, ids in sorted(by_region.items()):
        spec = scenario.regions[region]
        rate = spec.arrival_rate_per_day * sum(spec.arrival_monthly_factors) / 12
        for cid in sorted(ids):
            courts.append(CourtPlan(cid, region, rate / len(ids)))
        cap = spec.policy.provident_fund_annual_cap_yuan
        draw = sampler(spec.claim_yuan, rng)
        regions[region] = RegionPlan(
            debtors=debtors.get(region) or everyone,
            cap_fen=None if math.isinf(cap) else round(cap * 100),
            channel_share=demand["query_channel_share_by_region"].get(region) or overall,
            claims_fen=[max(100, round(draw() * 100)) for _ in range(CLAIM_SAMPLES)],
        )
    if sum(c.weight for c in courts) <= 0:
        raise UserError("fixtures: no court is in a region that files cases")
    return courts, regions


def _overall_channel_share(demand: dict[str, Any]) -> dict[str, float]:
    counts = {
        detail: v["per_second"]["mean"] or 0.0
        for k, v in demand["requests"].items()
        for kind, detail in [rq.split(k)]
        if kind == rq.QUERY
    }
    total = sum(counts.values()) or 1.0
    return {c: n / total for c, n in counts.items()} or {"central": 1.0}


def prime_for(
    mix: dict[str, float], peak_rate: float, workers: int, max_s: float, latency_s: float = 0.0
) -> Prime:
    """What each worker builds before the clock starts: a few seconds of what the controls
    and polls of its share of the peak rate consume (more while agencies hold each control
    ``latency_s`` seconds)."""
    per_worker = peak_rate / max(workers, 1)
    controls = sum(mix.get(c, 0.0) for c in lr.CONTROLS)
    polls = mix.get(lr.POLL_QUERY, 0.0)
    seconds = 4 + latency_s
    found = 0 if controls <= 0 else min(400, max(8, math.ceil(per_worker * controls * seconds)))
    pending = 0 if polls <= 0 else min(200, max(4, math.ceil(per_worker * polls * 2)))
    return Prime(found=found, pending=pending, max_s=max_s)


def make_plan(
    scenario: Scenario,
    demand: dict[str, Any],
    fixtures: dict[str, Any],
    adapter: Adapter,
    *,
    host: str,
    rate: float,
    segments: list[tuple[float, float, float]],
    shape: dict[str, Any],
    duration_s: float,
    warmup_s: float,
    workers: int,
    seed: int,
    results_dir: Path,
    run_id: str | None = None,
    drain_max_s: float = 10.0,
    time_scale: float | None = None,
) -> Plan:
    """The whole plan of a run at ``rate`` requests/s, from the scenario's ``[load]``,
    against an API behaving as the scenario's ``[api]`` says, its clock at ``time_scale``
    seconds per simulated day (default the scenario's ``[api] time_scale``)."""
    settings = scenario.load
    courts, regions = courts_and_regions(scenario, fixtures, demand, seed)
    predicted = logical_shares(demand)
    scale = time_scale if time_scale is not None else scenario.api.time_scale
    poll = adapter.poll_control
    rate_of_polls = None
    if poll is not None:
        rate_of_polls = polls.derive(
            scenario,
            demand,
            courts,
            interval_s=poll.interval_seconds,
            time_scale=scale,
            duration_s=duration_s,
            seed=seed,
        )
    mix, notes = build_mix(
        predicted,
        settings.polls_per_query,
        settings.reads_per_case,
        [k for k in lr.LOGICAL if adapter.supports(k)],
        rate_of_polls.per_control if rate_of_polls is not None else 0.0,
    )
    if rate_of_polls is not None:
        notes.append(rate_of_polls.note())
    else:
        notes.append(
            f"the adapter '{adapter.name}' has no poll_control: every control is taken as "
            "final when answered"
        )
    peak = max((r for _, _, r in segments), default=rate)
    interval = settings.interval_seconds or max(1.0, round(duration_s / 120))
    return Plan(
        host=host,
        run_id=run_id or secrets.token_hex(6),
        adapter=adapter.to_json(),
        target_rate=rate,
        segments=segments,
        duration_s=duration_s,
        warmup_s=warmup_s,
        interval_s=float(interval),
        drain_s=min(drain_max_s, settings.request_timeout_seconds),
        workers=workers,
        seed=seed,
        mix=mix,
        predicted_mix=predicted,
        predicted_rates={k: s * rate for k, s in predicted.items()},
        courts=courts,
        regions=regions,
        max_in_flight=settings.max_in_flight,
        max_waiting=settings.max_waiting,
        over_cap_share=settings.over_cap_share,
        replay_share=settings.replay_share,
        request_timeout_s=settings.request_timeout_seconds,
        results_dir=str(results_dir),
        prime=prime_for(
            mix,
            peak,
            workers,
            settings.prime_max_seconds,
            rate_of_polls.latency_s if rate_of_polls is not None else 0.0,
        ),
        shape=shape,
        notes=notes,
        api=api_mode(scenario, scale),
        polls=rate_of_polls.to_json() if rate_of_polls is not None else {},
    )


def api_mode(scenario: Scenario, time_scale: float) -> dict[str, Any]:
    """How the plan takes the target to decide controls: the scenario's ``[api]``."""
    f = scenario.api.faults
    faults = {
        "timeout_probability": f.timeout_probability,
        "lost_reply_probability": f.lost_reply_probability,
        "duplicate_reply_probability": f.duplicate_reply_probability,
        "deadline_days": f.deadline_days,
    }
    on = f.timeout_probability + f.lost_reply_probability + f.duplicate_reply_probability > 0
    return {
        "controls": scenario.api.controls,
        "faults": faults if on else None,
        "time_scale": time_scale,
    }
