"""The plan of a load run: everything the Locust processes need, as one JSON file.

``chakong load`` builds the plan in its own process (no Locust, no gevent there) from the
scenario, the simulated demand (:mod:`sim.demand`) and the API's fixtures, and hands it to
the Locust processes through the ``CHAKONG_LOAD_PLAN`` environment variable (a file path).

- **Rate and shape.** The target is ``--rate`` or the simulated peak-hour request rate times
  the demand multiplier. ``flat`` offers the target throughout; ``daily`` compresses the
  simulated 24-hour profile into the run (24 equal segments, the peak hour at the target).
  The rate is split evenly over the worker processes.
- **Mix.** Request kinds weighted by the simulated shares (``chakong demand``), plus
  ``GET /v1/queries/{id}`` polls (``polls_per_query`` per query submitted, which the
  simulation does not predict: it depends on the API's answer latency).
- **Courts.** A court is picked with a weight proportional to its region's filing rate
  (``arrival_rate_per_day`` times the mean monthly factor) over the region's courts; a case
  goes to a debtor of the court's region, its claim drawn from the region's ``claim_yuan``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from load.generator.plan_file import POLLS, CourtPlan, Plan, RegionPlan
from sim.demand import CASES, QUERIES
from sim.errors import UserError
from sim.scenario.distributions import sampler
from sim.scenario.schema import Scenario

CLAIM_SAMPLES = 512  # claims drawn per region for the generator to cycle through


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
    for key, kind in (("admin_token", str), ("courts", dict), ("debtors", list)):
        if not isinstance(data.get(key), kind):
            problems.append(f"--fixtures {path}: '{key}' missing or not a {kind.__name__}")
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


def target_rate(scenario: Scenario, demand: dict[str, Any], rate: float | None,
                multiplier: float | None) -> float:  # fmt: skip
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


def build_mix(demand: dict[str, Any], polls_per_query: float) -> dict[str, float]:
    """Request kind -> weight: the simulated shares plus polls, normalised."""
    shares = {k: (v["share"]["mean"] or 0.0) for k, v in demand["requests"].items()}
    query_share = sum(s for k, s in shares.items() if k.startswith(QUERIES))
    weights = {k: s for k, s in shares.items() if s > 0}
    if polls_per_query > 0 and query_share > 0:
        weights[POLLS] = polls_per_query * query_share
    total = sum(weights.values())
    if total <= 0:
        return {CASES: 1.0}
    return {k: w / total for k, w in weights.items()}


def segments_for(
    shape: str, rate: float, duration: float, demand: dict[str, Any]
) -> list[tuple[float, float, float]]:
    """Piecewise-constant rates over the run: one segment (flat) or 24 (daily profile)."""
    if shape == "flat":
        return [(0.0, duration, rate)]
    profile = demand["total"]["by_hour_per_second"]
    peak = max(profile)
    if peak <= 0:
        return [(0.0, duration, rate)]
    step = duration / 24
    return [(h * step, (h + 1) * step, rate * profile[h] / peak) for h in range(24)]


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
            c = fixtures["courts"][cid]
            courts.append(CourtPlan(cid, c["token"], region, rate / len(ids)))
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
        k.split()[-1]: v["per_second"]["mean"] or 0.0
        for k, v in demand["requests"].items()
        if k.startswith(QUERIES)
    }
    total = sum(counts.values()) or 1.0
    return {c: n / total for c, n in counts.items()} or {"central": 1.0}


def predicted(demand: dict[str, Any], rate: float) -> tuple[dict[str, float], dict[str, float]]:
    """The simulation's mix (each kind's share of the requests over the window) and the
    rates that mix gives at the target ``rate`` (requests/s; they add up to ``rate``)."""
    mix = {k: v["share"]["mean"] or 0.0 for k, v in demand["requests"].items()}
    return mix, {k: share * rate for k, share in mix.items()}


def make_plan(
    scenario: Scenario,
    demand: dict[str, Any],
    fixtures: dict[str, Any],
    *,
    host: str,
    rate: float,
    duration_s: float,
    shape: str,
    workers: int,
    seed: int,
    results_dir: Path,
    drain_max_s: float = 10.0,
) -> Plan:
    """The whole plan of a run at ``rate`` requests/s, from the scenario's ``[load]``."""
    settings = scenario.load
    courts, regions = courts_and_regions(scenario, fixtures, demand, seed)
    predicted_mix, predicted_rates = predicted(demand, rate)
    return Plan(
        host=host,
        admin_token=str(fixtures["admin_token"]),
        target_rate=rate,
        segments=segments_for(shape, rate, duration_s, demand),
        duration_s=duration_s,
        drain_s=min(drain_max_s, settings.request_timeout_seconds),
        workers=workers,
        seed=seed,
        mix=build_mix(demand, settings.polls_per_query),
        predicted_mix=predicted_mix,
        predicted_rates=predicted_rates,
        courts=courts,
        regions=regions,
        max_in_flight=settings.max_in_flight,
        max_waiting=settings.max_waiting,
        over_cap_share=settings.over_cap_share,
        replay_share=settings.replay_share,
        request_timeout_s=settings.request_timeout_seconds,
        results_dir=str(results_dir),
        shape=shape,
    )
