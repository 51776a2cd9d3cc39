"""The scenario: one typed, validated, immutable description shared by ``sim`` and ``load``.

A scenario file (TOML) is read by :mod:`sim.scenario.loader` and validated into a
:class:`Scenario`. Every model here is frozen and forbids unknown keys, so a typo in a file is
an error, never a silently ignored setting. Cross-references (agencies named by channels,
asset types held by agencies) are checked once, here; later stages trust the result.
"""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from sim.scenario.distributions import Constant, Distribution
from sim.scenario.holidays import load_holidays
from sim.scenario.load_settings import LoadSettings
from sim.scenario.stages import (
    CalibrationTarget,
    CreditPunishment,
    Disbursement,
    Freeze,
    Matters,
    PerAsset,
    Sale,
    TerminatedPool,
    flatten_fit,
)

Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class AssetType(StrEnum):
    """What a debtor can own, and what an agency can hold records of."""

    bank_deposit = "bank_deposit"
    real_estate = "real_estate"
    vehicle = "vehicle"
    securities = "securities"  # securities and fund shares
    insurance = "insurance"
    provident_fund = "provident_fund"  # 公积金: housing provident fund
    e_asset = "e_asset"  # platform balances, game accounts: not on the network today


SOLD_ASSETS = frozenset({AssetType.real_estate, AssetType.vehicle})
"""Asset types realised by a sale (auction); every other type is deducted."""


class ChannelName(StrEnum):
    central = "central"  # 总对总: SPC hub to agency headquarters
    local = "local"  # 点对点: local court to local branch or provincial system


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- calendars


def _expand_days(value: Any) -> Any:
    if value == "weekdays":
        return WEEKDAYS[:5]
    if value == "all":
        return WEEKDAYS
    return value


def _clock_fraction(text: str) -> float:
    hours, minutes = text.split(":")
    return (int(hours) * 60 + int(minutes)) / 1440


ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]


class WorkingCalendar(Frozen):
    """Open days of the week and one daily window, e.g. weekdays 08:30 to 17:30.

    ``days`` is a list of ``mon``..``sun``, or ``"weekdays"`` or ``"all"``.
    """

    days: Annotated[tuple[Weekday, ...], BeforeValidator(_expand_days)] = WEEKDAYS[:5]
    open: ClockTime = "08:30"
    close: ClockTime = "17:30"
    holidays: bool | None = Field(
        default=None,
        description="Keeps the scenario's public holidays and make-up working days (调休); "
        "default: yes, unless open all week.",
    )

    @model_validator(mode="after")
    def _window(self) -> WorkingCalendar:
        if not self.days:
            raise ValueError("a calendar needs at least one open day")
        if len(set(self.days)) != len(self.days):
            raise ValueError("'days' lists a day twice")
        if self.open_fraction >= self.close_fraction:
            raise ValueError(f"'open' ({self.open}) must be before 'close' ({self.close})")
        return self

    @property
    def keeps_holidays(self) -> bool:
        return self.holidays if self.holidays is not None else len(self.days) < 7

    @property
    def open_fraction(self) -> float:
        return _clock_fraction(self.open)

    @property
    def close_fraction(self) -> float:
        return _clock_fraction(self.close)


ALWAYS_OPEN = WorkingCalendar(days=WEEKDAYS, open="00:00", close="24:00")

# Filings by hour of the day (00 to 23), weights: a morning peak, a lunch lull, a smaller
# afternoon peak; only hours inside the court's window count.
MORNING_HEAVY = (0,) * 8 + (1.5, 3.0, 3.0, 2.5, 0.4, 0.6, 2.0, 2.0, 1.6, 0.6) + (0,) * 6


# ---------------------------------------------------------------- debtors


class AssetSpec(Frozen):
    """How common an asset type is among debtors, how many they hold, and what it is worth."""

    hold_probability: Probability = Field(
        description="Chance that a debtor (one not in the 'nothing' share) holds this type."
    )
    count: Distribution = Field(
        default=Constant(value=1), description="How many items a holder has (rounded; at least 1)."
    )
    value_yuan: Distribution = Field(description="Value of one item, in yuan.")


class DebtorAssets(Frozen):
    bank_deposit: AssetSpec | None = None
    real_estate: AssetSpec | None = None
    vehicle: AssetSpec | None = None
    securities: AssetSpec | None = None
    insurance: AssetSpec | None = None
    provident_fund: AssetSpec | None = None
    e_asset: AssetSpec | None = None

    def items(self) -> list[tuple[AssetType, AssetSpec]]:
        return [(t, spec) for t in AssetType if (spec := getattr(self, t.value)) is not None]


class Debtors(Frozen):
    nothing_share: Probability = Field(
        description="Share of debtors with no assets at all (about 40% in 2016)."
    )
    assets: DebtorAssets = DebtorAssets()


# ---------------------------------------------------------------- agencies


class Agency(Frozen):
    """An external agency answering the network: which records it holds and how it answers."""

    holds: tuple[AssetType, ...] = Field(min_length=1, description="Asset types it holds.")
    poll_interval_minutes: NonNegative = Field(
        default=0, description="It pulls requests from the hub this often (0: continuously)."
    )
    polling: WorkingCalendar = Field(
        default=ALWAYS_OPEN, description="When it polls (e.g. weekdays 08:00-18:00)."
    )
    servers: int = Field(default=1, ge=1, description="Requests it processes in parallel.")
    processing_days: Distribution = Field(description="Time to process one request, in days.")
    answer_deadline_hours: Positive | None = Field(
        default=None, description="Answer deadline from submission (banks: 24 hours)."
    )
    manual_share: Probability = Field(
        default=0.0,
        description="Share of requests answered by hand, in 'office' hours and taking "
        "'manual_days' (so an answer deadline can bind).",
    )
    manual_days: Distribution = Field(
        default=Constant(value=0.5),
        description="Time to answer a request by hand, in working days of 'office'.",
    )
    office: WorkingCalendar = Field(
        default=ALWAYS_OPEN,
        description="Staff hours (default: around the clock): online controls are carried "
        "out in them (after the poll that picks them up), and answers by hand are made in "
        "them.",
    )


# ---------------------------------------------------------------- channels


class LinkOverride(Frozen):
    """Any subset of a link's properties, overriding the channel's defaults."""

    latency_days: Distribution | None = None
    error_probability: Annotated[float, Field(ge=0, lt=1)] | None = None
    online_freeze: bool | None = None
    online_deduct: bool | None = None
    control_latency_days: Distribution | None = None
    coverage_share: Probability | None = None


class Link(Frozen):
    """How one channel serves one agency for one region, after all overrides."""

    latency_days: Distribution = Field(
        description="Answer latency: agency answer to delivery at the court, in days."
    )
    error_probability: float = Field(
        ge=0,
        lt=1,
        description="Chance a returned record is wrong or stale, so a control against it fails "
        "and is redone (below 1, or it would be redone for ever).",
    )
    online_freeze: bool = Field(description="Freezes can be done online (else in person).")
    online_deduct: bool = Field(description="Deductions can be done online (else in person).")
    control_latency_days: Distribution = Field(
        default=Constant(value=1),
        description="Time for an online freeze or deduction to take effect, in working days "
        "of the agency's office, from the poll that picks it up.",
    )
    coverage_share: Probability = Field(
        default=1.0,
        description="Share of the agency's records this link reaches (some banks answer only "
        "the local channel in some regions).",
    )

    def merged(self, override: LinkOverride | None) -> Link:
        if override is None:
            return self
        changes = {
            k: v for k in LinkOverride.model_fields if (v := getattr(override, k)) is not None
        }
        return self.model_copy(update=changes) if changes else self


class ChannelSpec(Link):
    """A channel's coverage (agencies it reaches) and its default link properties."""

    enabled: bool = Field(default=True, description="Off: no region uses this channel.")
    agencies: tuple[str, ...] = Field(description="Agencies reachable over this channel.")
    per_agency: dict[str, LinkOverride] = Field(default_factory=dict)

    def link(self) -> Link:
        return Link(**{name: getattr(self, name) for name in Link.model_fields})


class RegionChannel(LinkOverride):
    """A region's use of a channel: on or off, its coverage there, and local link properties."""

    use: bool = True
    agencies: tuple[str, ...] | None = Field(
        default=None, description="Replaces the channel's coverage in this region."
    )
    per_agency: dict[str, LinkOverride] = Field(default_factory=dict)


# ---------------------------------------------------------------- regions


class OfficerWork(Frozen):
    """Officer effort, in working days of the region's calendar."""

    investigate_days: Distribution = Field(
        description="First handling of a case: notices, restrictions, launching the query."
    )
    offline_control_days: Distribution = Field(
        default=Constant(value=0.5), description="One control (freeze or deduction) done in person."
    )
    rework_days: Distribution = Field(
        default=Constant(value=0.25), description="Redoing a control that failed on a wrong record."
    )
    travel_days: Distribution = Field(
        default=Constant(value=0.0), description="Travel for one in-person trip (any items)."
    )


class RegionPolicy(Frozen):
    provident_fund_annual_cap_yuan: float = Field(
        default=math.inf,
        gt=0,
        description="Most that may be deducted from one debtor's frozen provident fund in a "
        "calendar year (inf: no cap; e.g. 50000).",
    )
    provident_fund_freeze_years: float = Field(
        default=3, gt=0, le=10, description="Provident-fund freeze period (Dalian 2, Hunan 3)."
    )
    freeze_period_years: PerAsset | None = Field(
        default=None, description="Freeze periods by asset type here, over [freeze]."
    )


class Region(Frozen):
    """A province: its courts and officers, demand, claims, initial state and policies."""

    courts: int = Field(ge=1, description="Enforcement courts; cases spread evenly over them.")
    officers: int = Field(ge=1, description="Enforcement officers, spread evenly over courts.")
    officer_factor: Positive = Field(
        default=1.0, description="Multiplies 'officers' (what-ifs: 1.2 is 20% more officers)."
    )
    calendar: WorkingCalendar = WorkingCalendar()
    filing_hours: tuple[NonNegative, ...] = Field(
        default=MORNING_HEAVY,
        min_length=24,
        max_length=24,
        description="Weights of filings by hour of the day (00..23), inside the calendar's "
        "window; filings arrive on working days only (a calendar open around the clock "
        "files around the clock, uniformly).",
    )
    arrival_rate_per_day: NonNegative = Field(description="Poisson filings per calendar day.")
    arrival_monthly_factors: tuple[NonNegative, ...] = Field(
        default=(1.0,) * 12,
        min_length=12,
        max_length=12,
        description="Multipliers of the arrival rate for January..December.",
    )
    claim_yuan: Distribution = Field(description="Amount claimed per case, in yuan.")
    initial_pending_cases: int = Field(default=0, ge=0, description="Cases waiting at t=0.")
    initial_terminated_pool: int = Field(default=0, ge=0, description="终本 pool size at t=0.")
    officer_work: OfficerWork
    policy: RegionPolicy = RegionPolicy()
    channels: dict[ChannelName, RegionChannel] = Field(default_factory=dict)
    control_preference: tuple[ChannelName, ...] = Field(
        default=(ChannelName.central, ChannelName.local),
        description="Which channel's record a control uses when both found an asset and "
        "both (or neither) can freeze it online; one that can is preferred first.",
    )

    @model_validator(mode="after")
    def _filings_in_hours(self) -> Region:
        lo, hi = self.calendar.open_fraction * 24, self.calendar.close_fraction * 24
        if not any(w > 0 and h + 1 > lo and h < hi for h, w in enumerate(self.filing_hours)):
            raise ValueError(
                f"'filing_hours' gives no weight to the calendar's hours "
                f"({self.calendar.open}-{self.calendar.close})"
            )
        return self

    @property
    def effective_officers(self) -> int:
        return round(self.officers * self.officer_factor)

    @model_validator(mode="after")
    def _officers_cover_courts(self) -> Region:
        if self.effective_officers < self.courts:
            raise ValueError(
                f"'officers' ({self.effective_officers}) must be at least 'courts' "
                f"({self.courts}): every court needs an officer"
            )
        return self


# ---------------------------------------------------------------- run defaults


class RunDefaults(Frozen):
    replications: int = Field(default=10, ge=2, description="Default replications.")
    seed: int = Field(default=2023, ge=0, description="Default seed.")
    scale: Annotated[float, Field(gt=0, le=1)] = Field(
        default=1.0,
        description="Default --scale: run this fraction of the volume, resources scaled alike.",
    )


# ---------------------------------------------------------------- the reference API


class AgencyFaults(Frozen):
    """``[api.faults]``: agencies that misbehave (off by default). Each answer an agency owes
    the API (a query's, a control's) is late past the API's deadline, lost, or sent twice
    with these chances; the API then reports ``unknown`` until the answer arrives (late),
    or until the client asks again with the same Idempotency-Key (lost)."""

    timeout_probability: Probability = Field(
        default=0.0, description="Chance an answer arrives after the API's deadline."
    )
    lost_reply_probability: Probability = Field(
        default=0.0, description="Chance an answer never arrives (the agency acted or not)."
    )
    duplicate_reply_probability: Probability = Field(
        default=0.0, description="Chance an agency sends its answer twice."
    )
    deadline_days: Positive = Field(
        default=1.0, description="The API waits this long after an agency picked a request up."
    )

    @model_validator(mode="after")
    def _at_most_one(self) -> AgencyFaults:
        total = self.timeout_probability + self.lost_reply_probability
        if total > 1:
            raise ValueError(
                f"timeout_probability + lost_reply_probability must be at most 1, got {total:g}"
            )
        return self


class ApiSettings(Frozen):
    """The optional ``[api]`` table: how ``chakong serve`` builds and runs its world."""

    debtors: int = Field(
        default=1000, ge=1, le=1_000_000, description="Debtors created at start (fixtures)."
    )
    time_scale: Positive = Field(
        default=60.0,
        description="Seconds of wall time per simulated day (--time-scale): agencies answer "
        "on this compressed clock.",
    )
    clock_start: ClockTime = Field(
        default="09:00", description="Time of day on start_date when the API's clock starts."
    )
    controls: Literal["instant", "scenario"] = Field(
        default="instant",
        description="instant: a control is done or refused when it is made (what earlier "
        "versions did); scenario: accepted, processed by the agency and answered on the "
        "scaled clock with the links' control latencies, [freeze] hard failures and waiting "
        "freezes (轮候).",
    )
    over_freeze_share: NonNegative = Field(
        default=0.0,
        description="A case's freezes may hold this share more than its claim still needs "
        "(0: never more than it needs).",
    )
    faults: AgencyFaults = AgencyFaults()


# ---------------------------------------------------------------- scenario


class Scenario(Frozen):
    """The whole scenario. Build it with :func:`sim.scenario.load_scenario`."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    start_date: dt.date = Field(default=dt.date(2023, 1, 1), description="Day 0 of the clock.")
    holidays: str = Field(
        default="cn",
        description="Holiday calendar kept by courts and by agencies that keep working days: "
        "a shipped name ('cn': China's, 2020-2027), a .toml file, or 'none'.",
    )
    horizon_days: Positive = Field(default=365, description="Simulated time, in days.")
    warmup_days: NonNegative = Field(
        default=0, description="Statistics ignore what closes before this time."
    )
    backlog_sample_days: Positive = Field(default=1, description="Backlog sampling interval.")
    run: RunDefaults = RunDefaults()
    regions: dict[str, Region] = Field(min_length=1)
    debtors: Debtors
    agencies: dict[str, Agency] = Field(min_length=1)
    channels: dict[ChannelName, ChannelSpec] = Field(min_length=1)
    freeze: Freeze = Freeze()
    sale: Sale = Sale()
    credit_punishment: CreditPunishment = CreditPunishment()
    terminated_pool: TerminatedPool = TerminatedPool()
    matters: Matters = Matters()
    disbursement: Disbursement = Disbursement()
    calibration: tuple[CalibrationTarget, ...] = Field(
        default=(), description="Published figures this scenario must reproduce."
    )
    fit: Annotated[dict[str, tuple[float, float]], BeforeValidator(flatten_fit)] = Field(
        default_factory=dict,
        description="Free parameters of chakong calibrate --fit: dotted path -> [low, high].",
    )
    api: ApiSettings = ApiSettings()  # chakong serve
    load: LoadSettings = Field(
        default=LoadSettings(), description="How chakong load drives the query API; its SLOs."
    )

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        problems: list[str] = []
        try:
            load_holidays(self.holidays)
        except ValueError as e:
            problems.append(f"holidays: {e}")
        if self.warmup_days >= self.horizon_days:
            problems.append(
                f"warmup_days: must be less than horizon_days ({self.warmup_days:g} >= "
                f"{self.horizon_days:g})"
            )
        holder: dict[AssetType, str] = {}
        for name, agency in self.agencies.items():
            for asset in agency.holds:
                if asset in holder:
                    problems.append(
                        f"agencies.{name}.holds: '{asset}' is already held by agency "
                        f"'{holder[asset]}'"
                    )
                holder[asset] = name
        known = set(self.agencies)
        for cname, channel in self.channels.items():
            where = f"channels.{cname}"
            problems += _unknown_agencies(f"{where}.agencies", channel.agencies, known)
            problems += _stray_overrides(where, channel.per_agency, channel.agencies)
        for rname, region in self.regions.items():
            for cname, rc in region.channels.items():
                where = f"regions.{rname}.channels.{cname}"
                if cname not in self.channels:
                    problems.append(f"{where}: channel '{cname}' is not defined under [channels]")
                    continue
                coverage = rc.agencies if rc.agencies is not None else self.channels[cname].agencies
                if rc.agencies is not None:
                    problems += _unknown_agencies(f"{where}.agencies", rc.agencies, known)
                problems += _stray_overrides(where, rc.per_agency, coverage)
            if len(set(region.control_preference)) != len(region.control_preference):
                problems.append(f"regions.{rname}.control_preference: a channel is listed twice")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def freeze_years(self, region: str, asset: AssetType) -> float:
        """The freeze period for ``asset`` in ``region``, in years."""
        policy = self.regions[region].policy
        if asset == AssetType.provident_fund:
            return policy.provident_fund_freeze_years
        default = self.freeze.period_years.get(asset.value, 3.0)
        if policy.freeze_period_years is not None:
            return policy.freeze_period_years.get(asset.value, default)
        return default

    def holder_of(self, asset: AssetType) -> str | None:
        """The agency holding records of ``asset``, or None when no agency does."""
        for name, agency in self.agencies.items():
            if asset in agency.holds:
                return name
        return None

    def link(self, region: str, channel: ChannelName, agency: str) -> Link | None:
        """The resolved link from ``region`` over ``channel`` to ``agency``; None if not covered.

        Resolution order, later wins: channel defaults, channel per-agency override, region
        channel override, region per-agency override.
        """
        spec = self.channels.get(channel)
        if spec is None or not spec.enabled:
            return None
        rc = self.regions[region].channels.get(channel)
        if rc is not None and not rc.use:
            return None
        coverage = rc.agencies if rc is not None and rc.agencies is not None else spec.agencies
        if agency not in coverage:
            return None
        link = spec.link().merged(spec.per_agency.get(agency))
        if rc is not None:
            link = link.merged(rc).merged(rc.per_agency.get(agency))
        return link


def _unknown_agencies(where: str, names: tuple[str, ...], known: set[str]) -> list[str]:
    return [
        f"{where}: unknown agency '{n}' (defined: {', '.join(sorted(known))})"
        for n in names
        if n not in known
    ]


def _stray_overrides(where: str, per_agency: dict[str, Any], coverage: tuple[str, ...]) -> list:
    return [
        f"{where}.per_agency.{n}: agency '{n}' is not covered by this channel here"
        for n in per_agency
        if n not in coverage
    ]
