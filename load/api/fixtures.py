"""The world at start: courts and their tokens, debtors and their assets, from scenario + seed.

Everything is drawn from named random streams of the seed (:class:`sim.streams.Streams`), so
the same scenario and seed give the same courts, tokens, debtors and balances: a load test
can be repeated against the same world. Tokens are therefore test credentials, derived
from the seed, not secrets; the database keeps only their SHA-256.

- Courts: ``REGION-1`` .. ``REGION-N`` for the region's ``courts``.
- Debtors: ``[api] debtors`` of them (``D000001``...), each in a region drawn in proportion
  to the regions' filing rates, owning assets drawn as the simulation draws them
  (:class:`sim.model.debtors.DebtorFactory`: the ``[debtors]`` table), each asset held at
  the agency that holds that asset type (none for e-assets: the network cannot see them).

:func:`create_world` writes a fresh world; :func:`resume_world` finds the world an earlier
server left in the database (the same scenario, seed and clock, or a clear error saying
what differs) and gives its fixtures again, changing nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from load.api import audit
from load.api.db import Database
from load.api.ledger import debtor_account
from load.api.schema import SCHEMA_VERSION, accounts, assets, audit_heads, courts, debtors, meta
from sim.errors import UserError
from sim.model.debtors import DebtorFactory
from sim.model.streams import Streams
from sim.scenario.schema import Scenario


def day_fraction(clock: str) -> float:
    """``"09:00"`` as a fraction of a day."""
    hours, minutes = clock.split(":")
    return (int(hours) * 60 + int(minutes)) / 1440


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(rng: np.random.Generator, prefix: str) -> str:
    return f"{prefix}-{rng.bytes(18).hex()}"


def tokens(scenario: Scenario, seed: int) -> tuple[str, dict[str, dict[str, str]]]:
    """The admin token and every court's token and region (from the seed alone)."""
    token_rng = Streams(seed, 0).rng("api", "tokens")
    admin_token = _token(token_rng, "admin")
    fixture_courts: dict[str, dict[str, str]] = {}
    for region, spec in scenario.regions.items():
        for k in range(1, spec.courts + 1):
            fixture_courts[f"{region}-{k}"] = {
                "token": _token(token_rng, "court"),
                "region": region,
            }
    return admin_token, fixture_courts


def create_world(
    db: Database, scenario: Scenario, seed: int, time_scale: float | None = None
) -> dict[str, Any]:
    """Write a fresh world into ``db``; return the fixtures (without ``base_url``)."""
    streams = Streams(seed, 0)
    admin_token, fixture_courts = tokens(scenario, seed)
    court_rows = [
        {"court_id": cid, "region": c["region"], "token_sha256": token_sha256(c["token"])}
        for cid, c in fixture_courts.items()
    ]

    names = list(scenario.regions)
    rates = np.array([scenario.regions[r].arrival_rate_per_day for r in names], dtype=float)
    weights = rates / rates.sum() if rates.sum() > 0 else np.full(len(names), 1 / len(names))
    region_rng = streams.rng("api", "regions")
    factory = DebtorFactory(scenario.debtors, streams.rng("api", "debtors"))
    debtor_rows: list[dict[str, Any]] = []
    asset_rows: list[dict[str, Any]] = []
    account_rows: list[dict[str, Any]] = []
    for n in range(1, scenario.api.debtors + 1):
        debtor_id = f"D{n:06d}"
        region = names[int(region_rng.choice(len(names), p=weights))]
        debtor_rows.append({"debtor_id": debtor_id, "region": region})
        for a in factory.assets():
            asset_id = f"{debtor_id}-{a.index}"
            fen = round(a.value_yuan * 100)
            asset_rows.append(
                {
                    "asset_id": asset_id,
                    "debtor_id": debtor_id,
                    "asset_type": a.asset_type.value,
                    "agency": scenario.holder_of(a.asset_type),
                    "initial_fen": fen,
                    "cap_year": 0,
                    "cap_used_fen": 0,
                }
            )
            account_rows.append(
                {
                    "account_id": debtor_account(asset_id),
                    "kind": "debtor",
                    "case_id": None,
                    "balance_fen": fen,
                }
            )
    initial_total = sum(r["initial_fen"] for r in asset_rows)

    scale = scenario.api.time_scale if time_scale is None else time_scale
    settings = {
        "schema_version": str(SCHEMA_VERSION),
        "scenario": scenario.model_dump_json(),
        "seed": str(seed),
        "epoch": repr(time.time()),
        "time_scale": repr(scale),
        "start_day": repr(day_fraction(scenario.api.clock_start)),
        "initial_total_fen": str(initial_total),
        "admin_token_sha256": token_sha256(admin_token),
        "clock_offset_days": "0.0",
    }
    db.create()

    def write(conn: Any) -> None:
        conn.execute(insert(courts), court_rows)
        conn.execute(insert(debtors), debtor_rows)
        if asset_rows:
            conn.execute(insert(assets), asset_rows)
            conn.execute(insert(accounts), account_rows)
        conn.execute(insert(audit_heads), audit.initial_heads())
        # the clock starts last: the world is ready when it starts
        settings["epoch"] = repr(time.time())
        conn.execute(insert(meta), [{"key": k, "value": v} for k, v in settings.items()])

    db.write(write)
    return {
        "admin_token": admin_token,
        "courts": fixture_courts,
        "debtors": debtor_rows,
    }


def _first_difference(stored: Any, given: Any, path: str = "") -> str | None:
    if isinstance(stored, dict) and isinstance(given, dict):
        for key in sorted(set(stored) | set(given)):
            found = _first_difference(stored.get(key), given.get(key), f"{path}{key}.")
            if found is not None:
                return found
        return None
    if stored != given:
        return f"{path.rstrip('.') or 'scenario'}: {stored!r} in the database, {given!r} here"
    return None


def resume_world(
    db: Database, scenario: Scenario, seed: int, time_scale: float | None = None
) -> dict[str, Any]:
    """The fixtures of the world already in ``db`` (written by an earlier server with the
    same scenario, seed and time scale), changing nothing; a UserError naming what differs
    otherwise."""
    rows = db.read(lambda c: dict(c.execute(select(meta.c.key, meta.c.value)).all()))
    scale = scenario.api.time_scale if time_scale is None else time_scale
    stored_scenario = json.loads(rows["scenario"])
    given = json.loads(scenario.model_dump_json())
    problems = []
    if int(rows["seed"]) != seed:
        problems.append(f"--seed: {rows['seed']} in the database, {seed} here")
    if float(rows["time_scale"]) != scale:
        problems.append(
            f"--time-scale: {float(rows['time_scale']):g} in the database, {scale:g} here"
        )
    difference = _first_difference(stored_scenario, given)
    if difference is not None:
        problems.append(f"--scenario: {difference}")
    if problems:
        hint = "(the same command resumes the world; --reset starts a new one)"
        raise UserError([f"{p} {hint}" for p in problems])
    admin_token, fixture_courts = tokens(scenario, seed)
    debtor_rows = db.read(
        lambda c: [
            {"debtor_id": r.debtor_id, "region": r.region}
            for r in c.execute(select(debtors).order_by(debtors.c.debtor_id))
        ]
    )
    return {"admin_token": admin_token, "courts": fixture_courts, "debtors": debtor_rows}
