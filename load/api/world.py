"""The world one API process serves, read back from the database it was written to.

``chakong serve`` writes the world once (see :mod:`load.api.fixtures`), before any worker
accepts a request; every worker then reads it from the database: the scenario (as JSON),
the seed, the clock's epoch and scale. The database is the single source of truth, so all
workers agree on the clock, the agencies' draws and the rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select

from load.api.agencies import Agencies, ScaledClock
from load.api.db import Database, meta
from sim.scenario.schema import AssetType, Scenario

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True, slots=True)
class Court:
    """A court, as its bearer token names it."""

    court_id: str
    region: str


@dataclass
class World:
    db: Database
    scenario: Scenario
    seed: int
    clock: ScaledClock
    agencies: Agencies
    initial_total_fen: int
    admin_token_sha256: str

    @classmethod
    def load(cls, db: Database) -> World:
        rows = db.read(lambda c: dict(c.execute(select(meta.c.key, meta.c.value)).all()))
        if "scenario" not in rows:
            raise RuntimeError(f"{db.url}: no chakong world here (run chakong serve)")
        scenario = Scenario.model_validate_json(rows["scenario"])
        seed = int(rows["seed"])
        clock = ScaledClock(
            scenario.start_date,
            float(rows["epoch"]),
            float(rows["time_scale"]),
            float(rows["start_day"]),
        )
        return cls(
            db=db,
            scenario=scenario,
            seed=seed,
            clock=clock,
            agencies=Agencies(scenario, seed),
            initial_total_fen=int(rows["initial_total_fen"]),
            admin_token_sha256=rows["admin_token_sha256"],
        )

    def freeze_days(self, region: str, asset_type: str) -> float:
        """How long a freeze of ``asset_type`` held by a debtor of ``region`` lasts, in days."""
        return self.scenario.freeze_years(region, AssetType(asset_type)) * DAYS_PER_YEAR

    def cap_fen(self, region: str) -> int | None:
        """The provident-fund annual cap of ``region`` in fen (None: no cap)."""
        cap = self.scenario.regions[region].policy.provident_fund_annual_cap_yuan
        return None if math.isinf(cap) else round(cap * 100)
