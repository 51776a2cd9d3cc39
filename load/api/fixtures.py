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
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
from sqlalchemy import insert

from load.api.audit import GENESIS_HASH
from load.api.db import Database, accounts, assets, audit_head, courts, debtors, meta
from load.api.ledger import debtor_account
from sim.model.debtors import DebtorFactory
from sim.scenario.schema import Scenario
from sim.streams import Streams


def day_fraction(clock: str) -> float:
    """``"09:00"`` as a fraction of a day."""
    hours, minutes = clock.split(":")
    return (int(hours) * 60 + int(minutes)) / 1440


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(rng: np.random.Generator, prefix: str) -> str:
    return f"{prefix}-{rng.bytes(18).hex()}"


def create_world(
    db: Database, scenario: Scenario, seed: int, time_scale: float | None = None
) -> dict[str, Any]:
    """Write a fresh world into ``db``; return the fixtures (without ``base_url``)."""
    streams = Streams(seed, 0)
    token_rng = streams.rng("api", "tokens")
    admin_token = _token(token_rng, "admin")
    court_rows = []
    fixture_courts: dict[str, dict[str, str]] = {}
    for region, spec in scenario.regions.items():
        for k in range(1, spec.courts + 1):
            court_id = f"{region}-{k}"
            token = _token(token_rng, "court")
            court_rows.append(
                {"court_id": court_id, "region": region, "token_sha256": token_sha256(token)}
            )
            fixture_courts[court_id] = {"token": token, "region": region}

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
                {"account_id": debtor_account(asset_id), "kind": "debtor", "balance_fen": fen}
            )
    initial_total = sum(r["initial_fen"] for r in asset_rows)

    scale = scenario.api.time_scale if time_scale is None else time_scale
    settings = {
        "scenario": scenario.model_dump_json(),
        "seed": str(seed),
        "epoch": repr(time.time()),
        "time_scale": repr(scale),
        "start_day": repr(day_fraction(scenario.api.clock_start)),
        "initial_total_fen": str(initial_total),
        "admin_token_sha256": token_sha256(admin_token),
    }
    db.create()

    def write(conn: Any) -> None:
        conn.execute(insert(courts), court_rows)
        conn.execute(insert(debtors), debtor_rows)
        if asset_rows:
            conn.execute(insert(assets), asset_rows)
            conn.execute(insert(accounts), account_rows)
        conn.execute(insert(audit_head), [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
        # the clock starts last: the world is ready when it starts
        settings["epoch"] = repr(time.time())
        conn.execute(insert(meta), [{"key": k, "value": v} for k, v in settings.items()])

    db.write(write)
    return {
        "admin_token": admin_token,
        "courts": fixture_courts,
        "debtors": debtor_rows,
    }
