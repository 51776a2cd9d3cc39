"""How often the flows poll controls: derived from the scenario, not simulated.

The simulation counts the controls courts make, not how often a court's system asks how one
is getting on, so ``chakong demand`` has no rate for ``poll_control``. The plan derives one.
A control the agency has is polled every ``interval_seconds`` (the adapter's
``poll_control``) until it is final, which takes ``ceil(L / interval)`` polls, at least one,
``L`` being its wall time from the request to its final state on the API's clock of ``T``
seconds per simulated day: the agency's next polling instant, the link's
``control_latency_days`` (plus ``[freeze.hard] extra_delay_days``), the answer's
``latency_days``. In fault mode an answer later than the API's deadline, or lost, leaves the
control ``unknown`` at the deadline; the flows send it again and it is final once the
agency has acted. A freeze that waits behind another authority's (轮候) is polled on until
it takes effect. Nothing is followed past the end of the run: ``L`` is at most half the
run's length (a control's mean time left in the run).

``L`` is drawn for controls as the reference API draws them (its own timelines,
:class:`load.api.agencies.Agencies`, keyed by the seed): regions by their courts' filing
weight, actions and asset types by the simulated controls per day, each over the channel
the region prefers that can act online, at instants spread over a week of the API's clock.
The mean of the polls is the plan's polls per control. With controls decided at once
(``[api] controls = "instant"``) only freezes waiting in line need polls: a floor of
:data:`MIN_PER_CONTROL` covers them (and re-reads of final controls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from load.api.agencies import Agencies
from load.api.fixtures import day_fraction
from load.generator.plan_file import CourtPlan
from load.target import logical as lr
from sim.scenario.schema import AssetType, Scenario

MIN_PER_CONTROL = 0.05  # a court checks now and then on what waits in line
SAMPLES = 2000


@dataclass(frozen=True)
class PollRate:
    """The polls the plan gives each control, and where the figure comes from."""

    per_control: float
    controls: str  # the API's [api] controls: instant or scenario
    interval_s: float  # the adapter's poll interval
    time_scale: float  # the API's seconds per simulated day
    latency_days: float  # mean, request to final state
    latency_s: float
    faults: bool
    samples: int

    def note(self) -> str:
        if self.controls != "scenario":
            return (
                f"poll_control is derived, not simulated: controls are decided at once "
                f'([api] controls = "{self.controls}"), so only freezes waiting in line '
                f"(轮候) are polled: {self.per_control:g} polls per control (a floor)"
            )
        faults = ", with agency faults" if self.faults else ""
        return (
            f"poll_control is derived, not simulated: {self.per_control:.2f} polls per "
            f"control, each polled every {self.interval_s:g} s until final; a control takes "
            f"{self.latency_s:.2f} s on average ({self.latency_days:.3f} simulated days at "
            f"{self.time_scale:g} s per day{faults}; {self.samples} controls drawn as the "
            "API draws them)"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "derived": True, "note": self.note()}


def derive(
    scenario: Scenario,
    demand: dict[str, Any],
    courts: Sequence[CourtPlan],
    *,
    interval_s: float,
    time_scale: float,
    duration_s: float,
    seed: int,
    samples: int = SAMPLES,
) -> PollRate:
    """The polls per control of a run against an API behaving as ``scenario`` says."""
    api = scenario.api
    f = api.faults
    faults = f.timeout_probability + f.lost_reply_probability > 0
    if api.controls != "scenario":
        return PollRate(MIN_PER_CONTROL, api.controls, interval_s, time_scale, 0.0, 0.0,
                        faults, 0)  # fmt: skip
    # a control made during the run is followed until the run ends: half of it, on average
    days = _latencies(scenario, demand, courts, seed, samples, duration_s / 2 / time_scale)
    if not days:
        return PollRate(1.0, api.controls, interval_s, time_scale, 0.0, 0.0, faults, 0)
    wall = np.asarray(days) * time_scale
    polls = np.maximum(1, np.ceil(wall / interval_s))
    return PollRate(
        round(float(polls.mean()), 3),
        api.controls,
        interval_s,
        time_scale,
        round(float(np.mean(days)), 4),
        round(float(wall.mean()), 3),
        faults,
        len(days),
    )


def _latencies(
    scenario: Scenario,
    demand: dict[str, Any],
    courts: Sequence[CourtPlan],
    seed: int,
    samples: int,
    longest_days: float,
) -> list[float]:
    """Simulated days from a control to its final state (or to the end of a wait in line),
    at most ``longest_days``, for ``samples`` controls drawn as the scenario draws them."""
    agencies = Agencies(scenario, seed)
    rng = np.random.default_rng([seed, 7])
    regions = sorted({c.region for c in courts})
    weight = np.array([sum(c.weight for c in courts if c.region == r) for r in regions])
    kinds, kind_w = _controls(demand)
    start = day_fraction(scenario.api.clock_start)
    out: list[float] = []
    for i in range(samples):
        region = regions[int(rng.choice(len(regions), p=weight / weight.sum()))]
        action, asset = kinds[int(rng.choice(len(kinds), p=kind_w))]
        agency = scenario.holder_of(AssetType(asset))
        channel = _channel(scenario, agencies, region, agency, action)
        if agency is None or channel is None:
            continue  # in person, or no agency: never an online control
        made = start + 7 * rng.random()
        tl = agencies.control(region, channel, agency, asset, action, i + 1, made)
        reply = tl.reply
        if reply.reply is not None and (reply.deadline is None or reply.reply <= reply.deadline):
            final = reply.reply
        else:  # unknown at the deadline, final once sent again and the agency has acted
            final = max(reply.deadline or tl.act, tl.act)
        if tl.waiting_until is not None:  # followed until it takes effect
            final = max(final, tl.waiting_until)
        out.append(min(final - made, longest_days))
    return out


def _controls(demand: dict[str, Any]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(action, asset type) pairs and their weights, from the simulated controls per day."""
    pairs, weights = [], []
    for action, assets in (demand.get("controls_per_day_by_asset") or {}).items():
        if action not in lr.CONTROLS:
            continue
        for asset, per_day in assets.items():
            mean = per_day.get("mean") if isinstance(per_day, dict) else per_day
            if mean and asset in AssetType._value2member_map_:
                pairs.append((action, asset))
                weights.append(float(mean))
    if not pairs:
        return [(lr.FREEZE, AssetType.bank_deposit.value)], np.array([1.0])
    w = np.asarray(weights)
    return pairs, w / w.sum()


def _channel(
    scenario: Scenario, agencies: Agencies, region: str, agency: str | None, action: str
) -> str | None:
    """The channel a control goes over: the region's preferred one that acts online."""
    if agency is None:
        return None
    for channel in scenario.regions[region].control_preference:
        link = agencies.link_of.get((region, channel.value, agency))
        if link is not None and (link.online_deduct if action == lr.DEDUCT else link.online_freeze):
            return channel.value
    return None
