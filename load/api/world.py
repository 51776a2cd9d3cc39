"""The world one API process serves, read back from the database it was written to.

``chakong serve`` writes the world once (see :mod:`load.api.fixtures`), before any worker
accepts a request, or finds it there from an earlier run; every worker then reads it from
the database: the scenario (as JSON), the seed, the clock's epoch, scale and offset. The
database is the single source of truth, so all workers agree on the clock, the agencies'
draws and the rules. The audit key is not in the database: the caller hands it over.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from load.api.agencies import Agencies
from load.api.clock import ScaledClock
from load.api.db import Database
from load.api.schema import SCHEMA_VERSION, meta
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
    audit_key: bytes
    timed_controls: bool = field(init=False)  # [api] controls = "scenario": agencies' clock

    def __post_init__(self) -> None:
        self.timed_controls = self.scenario.api.controls == "scenario"

    @classmethod
    def load(
        cls, db: Database, audit_key: bytes, offset: Callable[[], float] | None = None
    ) -> World:
        """The world in ``db``; ``offset``: the clock's offset in days (default: as the
        database says now)."""
        rows = db.read(lambda c: dict(c.execute(select(meta.c.key, meta.c.value)).all()))
        if "scenario" not in rows:
            raise RuntimeError(f"{db.url}: no chakong world here (run chakong serve)")
        version = int(rows.get("schema_version", 1))
        if version != SCHEMA_VERSION:
            raise RuntimeError(
                f"{db.url}: a world of schema version {version}, this server reads {SCHEMA_VERSION}"
            )
        scenario = Scenario.model_validate_json(rows["scenario"])
        seed = int(rows["seed"])
        if offset is None:
            fixed = float(rows.get("clock_offset_days", 0.0))
            offset = lambda: fixed  # noqa: E731
        clock = ScaledClock(
            scenario.start_date,
            float(rows["epoch"]),
            float(rows["time_scale"]),
            float(rows["start_day"]),
            offset,
        )
        return cls(
            db=db,
            scenario=scenario,
            seed=seed,
            clock=clock,
            agencies=Agencies(scenario, seed),
            initial_total_fen=int(rows["initial_total_fen"]),
            admin_token_sha256=rows["admin_token_sha256"],
            audit_key=audit_key,
        )

    def freeze_days(self, region: str, asset_type: str) -> float:
        """How long a freeze of ``asset_type`` held by a debtor of ``region`` lasts, in days."""
        return self.scenario.freeze_years(region, AssetType(asset_type)) * DAYS_PER_YEAR

    def cap_fen(self, region: str) -> int | None:
        """The provident-fund annual cap of ``region`` in fen (None: no cap)."""
        cap = self.scenario.regions[region].policy.provident_fund_annual_cap_yuan
        return None if math.isinf(cap) else round(cap * 100)

    def commit_limit(self, claim_fen: int) -> int:
        """The most a case may have recovered, held and on its way together: its claim
        (more only when the scenario says courts over-freeze, by ``over_freeze_share``)."""
        return math.floor(claim_fen * (1 + self.scenario.api.over_freeze_share))
