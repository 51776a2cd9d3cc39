"""The plan file of a load run: what the Locust processes read, and nothing secret.

``chakong load`` builds a :class:`Plan` (:mod:`load.harness.plan`) in its own process and
hands it to the Locust processes through the ``CHAKONG_LOAD_PLAN`` environment variable (a
file path). The plan names courts but holds no token: a worker reads the courts' tokens
from the fixtures file named by ``CHAKONG_LOAD_FIXTURES`` (for a local worker a private
copy outside the results folder, removed after the run; a remote worker is given its own
copy of the fixtures beside ``plan.json``). Plain Python: no Locust, no gevent, so the
``chakong`` process may import it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PLAN_ENV = "CHAKONG_LOAD_PLAN"
FIXTURES_ENV = "CHAKONG_LOAD_FIXTURES"


@dataclass
class CourtPlan:
    court_id: str
    region: str
    weight: float


@dataclass
class RegionPlan:
    debtors: list[str]
    cap_fen: int | None  # provident-fund annual cap; None: no cap
    channel_share: dict[str, float]  # query channel -> share (from the simulation)
    claims_fen: list[int]


@dataclass
class Prime:
    """State each worker builds before the clock starts (cases queried and answered, assets
    found and frozen), so every logical request can run at its own rate from the start."""

    found: int  # assets found, at least (half of them frozen)
    pending: int  # queries sent and not yet polled
    max_s: float  # give up priming after this long


@dataclass
class Plan:
    host: str
    run_id: str  # in every idempotency key: two runs never share one
    adapter: dict[str, Any]  # load.target.adapter.Adapter.to_json()
    target_rate: float  # requests per second over all workers (a shape's peak)
    segments: list[tuple[float, float, float]]  # (start s, end s, rate) over all workers
    duration_s: float
    warmup_s: float
    interval_s: float
    drain_s: float
    workers: int
    seed: int
    mix: dict[str, float]  # logical request -> weight (sums to 1)
    predicted_mix: dict[str, float]  # the simulation's shares (logical requests it counts)
    predicted_rates: dict[str, float]  # logical request -> requests/s of that mix at the target
    courts: list[CourtPlan]
    regions: dict[str, RegionPlan]
    max_in_flight: int
    max_waiting: int
    over_cap_share: float
    replay_share: float
    request_timeout_s: float
    results_dir: str
    prime: Prime
    shape: dict[str, Any] = field(default_factory=lambda: {"kind": "flat"})
    notes: list[str] = field(default_factory=list)
    # how the target decides controls, as the plan assumes it ([api] of the scenario)
    api: dict[str, Any] = field(default_factory=dict)
    polls: dict[str, Any] = field(default_factory=dict)  # poll_control, derived (harness.polls)

    @property
    def offered_mean_rate(self) -> float:
        """The mean rate the segments offer after the warm-up."""
        window = self.duration_s - self.warmup_s
        total = sum(
            (b - max(a, self.warmup_s)) * r for a, b, r in self.segments if b > self.warmup_s
        )
        return total / window if window > 0 else 0.0

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> Plan:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        raw["courts"] = [CourtPlan(**c) for c in raw["courts"]]
        raw["regions"] = {k: RegionPlan(**v) for k, v in raw["regions"].items()}
        raw["segments"] = [tuple(s) for s in raw["segments"]]
        raw["prime"] = Prime(**raw["prime"])
        return cls(**raw)

    @classmethod
    def from_env(cls) -> Plan:
        path = os.environ.get(PLAN_ENV)
        if not path:
            raise RuntimeError(f"{PLAN_ENV} is not set: run this locustfile through chakong load")
        return cls.read(path)


def tokens_from_env() -> dict[str, str]:
    """Court id -> token, from the fixtures file named by ``CHAKONG_LOAD_FIXTURES``."""
    path = os.environ.get(FIXTURES_ENV)
    if not path:
        raise RuntimeError(f"{FIXTURES_ENV} is not set: a worker needs the fixtures' tokens")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {cid: str(c["token"]) for cid, c in data["courts"].items()}


DEDUCTIBLE = frozenset({"bank_deposit", "securities", "insurance", "provident_fund"})
"""Asset types realised by deduction (the rest are sold): the generator deducts only these."""
