"""Precision-driven replications: the replication algorithm of Hoad, Robinson and Davies.

Hoad, K., Robinson, S. and Davies, R. (2010) "Automated selection of the number of
replications for a discrete-event simulation", *Journal of the Operational Research
Society* 61(11), 1632-1644. Start with ``initial`` replications (3 in the paper); after each
replication ``n`` compute every 95% t-interval's half-width relative to its mean; the first
``n`` at which the target is met is the candidate ``Nsol``; it is accepted once the target
has held for ``k_limit(Nsol)`` further replications (the look-ahead: 5 up to 100
replications, then 5% of ``Nsol``), and rejected, the search going on, as soon as it fails
during the look-ahead. Nothing more is run once ``max_replications`` (the cap) is reached.

chakong applies the target to **every judged metric of every scenario at once** (all the
headline metrics unless a list is given), which is the paper's rule for several outputs
taken jointly. The rule is evaluated replication by replication in index order, whatever
batches the executor computed: replications run ahead in parallel and not needed are
discarded, so the result does not depend on the number of workers.

How a metric is judged (its relative half-width is ``half_width / scale``):

- ``scale`` is ``|mean|``; for a **rate** (a share in [0, 1], such as
  ``late_answer_rate``) it is ``max(|mean|, RATE_FLOOR)`` with ``RATE_FLOOR = 0.01``: a rate
  under 1% is held to an absolute half-width of ``target`` x 1 percentage point rather than
  to a share of a near-zero mean that no number of replications could reach;
- a metric with the same value in every replication (e.g. a rate that is always 0) has a
  half-width of 0 and meets any target ("no variation");
- a metric observed in no replication (its mean is NaN) is **not judged**, and says so;
- a metric observed in fewer than 2 replications, or whose mean is 0 while its values vary
  (relative width undefined), does **not** meet the target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.engine.runner import Groups
from sim.errors import UserError
from sim.results.metrics import is_rate, unknown_metric
from sim.results.statistics import summarize
from sim.study.limits import DEFAULT_CAP, INITIAL_REPLICATIONS, RATE_FLOOR, target_problem


@dataclass(frozen=True)
class PrecisionRule:
    """The target and the limits of a precision-driven run."""

    target: float  # relative half-width of the 95% interval, e.g. 0.02
    max_replications: int = DEFAULT_CAP  # the cap
    initial: int = INITIAL_REPLICATIONS  # replications before the first check
    look_ahead: int = 5  # kLimit for up to 100 replications
    metrics: tuple[str, ...] = ()  # judged metrics; empty: every headline metric

    def __post_init__(self) -> None:
        problem = target_problem(self.target)
        if problem:
            raise UserError(f"--precision: {problem}")
        if self.initial < 2:
            raise UserError("--replications: at least 2 are needed before judging precision")
        if self.max_replications < self.initial:
            raise UserError(
                f"--max-replications {self.max_replications}: must be at least the initial "
                f"replications ({self.initial})"
            )
        unknown = unknown_metric(self.metrics, "--precision-metric")
        if unknown:
            raise UserError(unknown)

    def k_limit(self, n: int) -> int:
        """Replications the target must hold for after it is first met at ``n``."""
        return self.look_ahead if n <= 100 else int(self.look_ahead * n / 100)

    def judged(self, available: Sequence[str]) -> list[str]:
        return [m for m in available if m in self.metrics] if self.metrics else list(available)


@dataclass(frozen=True)
class MetricPrecision:
    """How precisely one metric of one scenario is known after ``n`` replications."""

    scenario: str
    metric: str
    mean: float
    half_width: float
    relative: float  # half_width / scale (NaN when not judged)
    status: str  # "met", "not met" or "not judged"
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "metric": self.metric,
            "relative_half_width": _finite(self.relative),
            "status": self.status,
            "note": self.note,
        }


def judge_metric(
    scenario: str, metric: str, values: Sequence[float], target: float
) -> MetricPrecision:
    """Judge one metric's per-replication values against the target (see module doc)."""
    s = summarize(values)

    def verdict(hw: float, rel: float, status: str, note: str = "") -> MetricPrecision:
        return MetricPrecision(scenario, metric, s.mean, hw, rel, status, note)

    if s.n == 0:
        return verdict(math.nan, math.nan, "not judged", "no observations")
    if s.n == 1:
        return verdict(math.nan, math.inf, "not met", "observed in only 1 replication")
    hw = s.half_width
    if hw == 0:
        return verdict(0.0, 0.0, "met", "no variation")
    scale, note = abs(s.mean), ""
    if is_rate(metric) and scale < RATE_FLOOR:
        scale, note = RATE_FLOOR, "rate under 1%: judged against 1 percentage point"
    if scale == 0:
        return verdict(hw, math.inf, "not met", "mean 0 with spread: relative width undefined")
    rel = hw / scale
    return verdict(hw, rel, "met" if rel <= target else "not met", note)


def judge(
    groups: Sequence[tuple[str, Sequence[Mapping[str, float]]]], rule: PrecisionRule
) -> list[MetricPrecision]:
    """Judge every scenario's metrics from its per-replication metric dicts."""
    out = []
    for scenario, reps in groups:
        names = rule.judged(list(reps[0])) if reps else []
        for m in names:
            out.append(judge_metric(scenario, m, [r[m] for r in reps], rule.target))
    return out


@dataclass
class PrecisionOutcome:
    """What a precision-driven run did and why it stopped."""

    rule: PrecisionRule
    stopped_by: str  # "precision" or "cap"
    replications: int  # replications run and reported
    reached_at: int | None  # Nsol: where the target was (last) first met
    metrics: list[MetricPrecision] = field(default_factory=list)  # judged at the end

    @property
    def missed(self) -> list[MetricPrecision]:
        return [m for m in self.metrics if m.status == "not met"]

    def describe(self) -> str:
        r = self.rule
        head = f"precision {_pct(r.target)} (Hoad, Robinson & Davies 2010): "
        if self.stopped_by == "precision":
            return head + (
                f"reached at {self.reached_at} replications and held over "
                f"{self.replications - (self.reached_at or 0)} more; {self.replications} run"
            )
        text = head + f"not confirmed; stopped at the cap of {r.max_replications} replications"
        if self.reached_at is not None and not self.missed:
            text += f" (met from {self.reached_at}, look-ahead cut short by the cap)"
        if self.missed:
            worst = sorted(self.missed, key=lambda m: -m.relative)[:5]
            several = len({m.scenario for m in self.metrics}) > 1
            text += "; not within target: " + ", ".join(_miss(m, several) for m in worst)
            if len(self.missed) > len(worst):
                text += f" and {len(self.missed) - len(worst)} more"
        return text

    def to_json(self) -> dict[str, Any]:
        r = self.rule
        return {
            "target": r.target,
            "max_replications": r.max_replications,
            "initial": r.initial,
            "look_ahead": r.look_ahead,
            "stopped_by": self.stopped_by,
            "reached_at": self.reached_at,
            "replications": self.replications,
            "rate_floor": RATE_FLOOR,
            "metrics": [m.to_json() for m in self.metrics],
        }


class Sequential:
    """The algorithm's state, fed the judgement after each replication in index order; a
    :class:`sim.engine.runner.StoppingRule` for the runner."""

    def __init__(self, rule: PrecisionRule) -> None:
        self.rule = rule
        self.nsol: int | None = None
        self.outcome: PrecisionOutcome | None = None
        self.judgement: list[MetricPrecision] = []  # the latest

    @property
    def note(self) -> str:
        """For the progress bar."""
        return f" (precision {100 * self.rule.target:g}%, cap {self.rule.max_replications})"

    def batch(self, done: int, parallelism: int) -> int:
        return self.next_batch(done, parallelism, self.judgement)

    def enough(self, n: int, groups: Groups) -> bool:
        if n < self.rule.initial:
            return False
        self.judgement = judge(groups, self.rule)
        return self.step(n, self.judgement)

    def step(self, n: int, judgement: list[MetricPrecision]) -> bool:
        """Take the judgement after ``n`` replications; True when the run should stop."""
        rule = self.rule
        met = all(m.status != "not met" for m in judgement)
        if not met:
            self.nsol = None
        elif self.nsol is None:
            self.nsol = n
        if self.nsol is not None and n - self.nsol >= rule.k_limit(self.nsol):
            self.outcome = PrecisionOutcome(rule, "precision", n, self.nsol, judgement)
            return True
        if n >= rule.max_replications:
            self.outcome = PrecisionOutcome(rule, "cap", n, self.nsol, judgement)
            return True
        return False

    def next_batch(self, n: int, parallelism: int, judgement: list[MetricPrecision]) -> int:
        """How many replications to run next (efficiency only: surplus is discarded)."""
        rule = self.rule
        room = rule.max_replications - n
        if n == 0:
            return min(max(rule.initial, parallelism), rule.max_replications)
        if self.nsol is not None:
            wanted = self.nsol + rule.k_limit(self.nsol) - n
        else:
            # the classic estimate: a half-width shrinks like 1/sqrt(n)
            worst = max((m.relative for m in judgement if m.status == "not met"), default=0.0)
            ratio = worst / rule.target if math.isfinite(worst) else 2.0
            wanted = math.ceil(n * ratio**2) - n + rule.k_limit(n)
        wanted = min(max(wanted, 1), max(n, parallelism))  # grow at most by doubling
        batch = math.ceil(wanted / parallelism) * parallelism
        return max(1, min(batch, room))


def _pct(x: float) -> str:
    return f"{100 * x:g}%"


def _miss(m: MetricPrecision, with_scenario: bool) -> str:
    where = f"{m.scenario}/" if with_scenario else ""
    width = "undefined" if not math.isfinite(m.relative) else f"±{100 * m.relative:.1f}%"
    return f"{where}{m.metric} ({width})"


def _finite(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else v
