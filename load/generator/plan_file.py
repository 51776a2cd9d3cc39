"""The plan file of a load run: what the Locust processes read, and nothing more.

``chakong load`` builds a :class:`Plan` (:mod:`load.harness.plan`) in its own process and
hands it to the Locust processes through the ``CHAKONG_LOAD_PLAN`` environment variable (a
file path). Plain Python: no Locust, no gevent, so the ``chakong`` process may import it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sim.scenario.schema import AssetType

PLAN_ENV = "CHAKONG_LOAD_PLAN"
POLLS = "GET /v1/queries/{id}"


@dataclass
class CourtPlan:
    court_id: str
    token: str
    region: str
    weight: float


@dataclass
class RegionPlan:
    debtors: list[str]
    cap_fen: int | None  # provident-fund annual cap; None: no cap
    channel_share: dict[str, float]  # query channel -> share (from the simulation)
    claims_fen: list[int]


@dataclass
class Plan:
    host: str
    admin_token: str
    target_rate: float  # requests per second over all workers (daily shape: at the peak)
    segments: list[tuple[float, float, float]]  # (start s, end s, rate) over all workers
    duration_s: float
    drain_s: float
    workers: int
    seed: int
    mix: dict[str, float]  # request kind -> weight (sums to 1)
    predicted_mix: dict[str, float]  # the simulation's shares (no polls)
    predicted_rates: dict[str, float]  # request kind -> requests/s the simulation predicts x M
    courts: list[CourtPlan]
    regions: dict[str, RegionPlan]
    max_in_flight: int
    max_waiting: int
    over_cap_share: float
    replay_share: float
    request_timeout_s: float
    results_dir: str
    shape: str = "flat"
    notes: list[str] = field(default_factory=list)

    @property
    def offered_mean_rate(self) -> float:
        """The mean rate the segments offer (the target, for a flat shape)."""
        total = sum((b - a) * r for a, b, r in self.segments)
        return total / self.duration_s

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> Plan:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        raw["courts"] = [CourtPlan(**c) for c in raw["courts"]]
        raw["regions"] = {k: RegionPlan(**v) for k, v in raw["regions"].items()}
        raw["segments"] = [tuple(s) for s in raw["segments"]]
        return cls(**raw)

    @classmethod
    def from_env(cls) -> Plan:
        path = os.environ.get(PLAN_ENV)
        if not path:
            raise RuntimeError(f"{PLAN_ENV} is not set: run this locustfile through chakong load")
        return cls.read(path)


DEDUCTIBLE = frozenset(
    {AssetType.bank_deposit, AssetType.securities, AssetType.insurance, AssetType.provident_fund}
)
"""Asset types realised by deduction (the rest are sold): the generator deducts only these."""
