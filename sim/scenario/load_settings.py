"""The ``[load]`` table: how ``chakong load`` drives the query API, and its SLOs.

The simulation gives the demand (``chakong demand``); these settings say how much of it a
load test offers (``demand_multiplier`` or a fixed ``rate_per_second``), for how long, with
what shape over the run, and the service-level objectives (``[load.slo]``) a run must meet.
``chakong load`` exits 1 when one fails, so a pipeline can gate on it. ``sim`` only reads
these values; the load generator lives in ``load``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Slo(_Frozen):
    """Service-level objectives of a load run (each check is reported pass or fail)."""

    p99_ms: dict[str, Positive] = Field(
        default_factory=lambda: {"send_query": 200.0},
        description="99th-percentile latency bound by logical request (file_case, send_query, "
        "poll_query, read_case, freeze, deduct, unfreeze, renew, or 'all'), corrected for "
        "coordinated omission (from the intended send): shorthand for the threshold "
        "'NAME: corrected_p99 < MS'.",
    )
    thresholds: list[str] = Field(
        default_factory=list,
        description="k6-like thresholds, 'NAME: METRIC OP VALUE [abort]': NAME a logical "
        "request or 'all'; METRIC p50, p90, p95, p99, p999, max (ms from the actual send), "
        "corrected_p50 .. corrected_max (from the intended send), error_rate, achieved_rate "
        "(successful requests answered inside the window, per second); OP <, <=, >, >=; "
        "'abort' stops the run as soon as the threshold fails.",
    )
    mix_tolerance: Share = Field(
        default=0.05,
        description="Each logical request's measured share of the requests sent may differ "
        "from its planned share by at most this (absolute: 0.05 is 5 percentage points).",
    )
    error_rate_max: Share = Field(
        default=0.001, description="Most requests that may fail (HTTP or transport errors)."
    )
    achieved_rate_min: Share = Field(
        default=0.98,
        description="Completed requests per second, at least this share of the offered rate "
        "(the Poisson arrivals drawn at the target rate; the draw itself is checked apart).",
    )
    send_lag_p99_max_ms: Positive = Field(
        default=10.0,
        description="Generator health: the generator's own lateness (when it got to an "
        "arrival after its intended time), 99th percentile; beyond it the run is unhealthy.",
    )
    dropped_max: Annotated[int, Field(ge=0)] = Field(
        default=0, description="Generator health: arrivals dropped as too many were in flight."
    )


class LoadSettings(_Frozen):
    """How ``chakong load`` turns this scenario into traffic (flags override each field)."""

    rate_per_second: Positive | None = Field(
        default=None,
        description="Target request rate (requests per second, all workers); unset: the "
        "simulated peak-hour rate times demand_multiplier.",
    )
    demand_multiplier: Positive = Field(
        default=1.0,
        description="Target = the simulated peak-hour request rate times this (a deployment "
        "sized for that many times the scenario's volume).",
    )
    duration_seconds: Positive = Field(default=60, description="Length of the measured run.")
    shape: Literal["flat", "daily", "ramp", "step", "spike", "soak"] = Field(
        default="flat",
        description="flat: the target rate throughout; daily: the simulated 24-hour profile "
        "compressed into the run, its peak hour at the target rate; ramp: from ramp_from of "
        "the target up to it; step: steps equal steps up to it; spike: the target, with "
        "spike_multiplier times it for spike_seconds at spike_at of the run; soak: the "
        "target held flat, for long runs.",
    )
    warmup_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        default=0.0,
        description="The first seconds of the run (load offered as the shape says) that the "
        "verdict leaves out; part of duration_seconds.",
    )
    ramp_from: Share = Field(default=0.1, description="ramp: start at this share of the target.")
    steps: Annotated[int, Field(ge=1, le=100)] = Field(
        default=5, description="step: this many equal steps up to the target."
    )
    spike_multiplier: Positive = Field(default=3.0, description="spike: the target times this.")
    spike_at: Share = Field(default=0.5, description="spike: starts at this share of the run.")
    spike_seconds: Positive = Field(default=10.0, description="spike: how long it lasts.")
    interval_seconds: Positive | None = Field(
        default=None,
        description="Length of the time series' intervals (default: about 120 of them).",
    )
    adapter: str | None = Field(
        default=None,
        description="Target adapter file (TOML; a path relative to the working directory); "
        "default: the reference API's.",
    )
    api_time_scale: Positive = Field(
        default=2.0,
        description="Seconds of wall time per simulated day of the reference API that "
        "chakong load starts itself: agencies answer within seconds, so a run's flows "
        "complete inside it.",
    )
    prime_max_seconds: Positive = Field(
        default=60.0,
        description="Longest each worker spends before the run building state (cases "
        "queried and answered, assets found and frozen).",
    )
    reads_per_case: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        default=0.0, description="read_case requests in the mix per case filed."
    )
    max_in_flight: Annotated[int, Field(ge=1)] = Field(
        default=100, description="Requests in flight per worker process (connection pool)."
    )
    max_waiting: Annotated[int, Field(ge=0)] = Field(
        default=100_000,
        description="Arrivals that may wait for a free connection per worker; beyond: dropped.",
    )
    polls_per_query: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        default=1.0, description="poll_query requests in the mix per query sent."
    )
    over_cap_share: Share = Field(
        default=0.2,
        description="Share of provident-fund deductions that deliberately ask for more than "
        "the region's annual cap (must be refused: 409 cap_exceeded).",
    )
    replay_share: Share = Field(
        default=0.02,
        description="Share of controls sent twice with the same Idempotency-Key (the second "
        "must return the same control).",
    )
    request_timeout_seconds: Positive = Field(default=30, description="Per-request timeout.")
    slo: Slo = Slo()
