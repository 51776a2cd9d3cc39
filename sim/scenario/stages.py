"""Scenario tables for the enforcement stages after the query: freezes, sales, credit
punishment, the 终本 pool, derived matters, case funds; and calibration targets.

Defaults follow the law where the law fixes a number (freeze periods, auction notices, the
3-month and 5-year 终本 rules) and are neutral (zero) where behaviour must be measured
(waiting freezes, voluntary payment, objections), so a scenario turns a mechanism on by
giving its numbers.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.distributions import Constant, Distribution

Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]

ASSET_TYPE_NAMES = (
    "bank_deposit",
    "real_estate",
    "vehicle",
    "securities",
    "insurance",
    "provident_fund",
    "e_asset",
)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PerAsset(Frozen):
    """A number for each asset type (missing types take the table's default)."""

    bank_deposit: NonNegative | None = None
    real_estate: NonNegative | None = None
    vehicle: NonNegative | None = None
    securities: NonNegative | None = None
    insurance: NonNegative | None = None
    provident_fund: NonNegative | None = None
    e_asset: NonNegative | None = None

    def get(self, asset: str, default: float) -> float:
        value = getattr(self, asset)
        return default if value is None else value


class PerAssetProbability(PerAsset):
    bank_deposit: Probability | None = None
    real_estate: Probability | None = None
    vehicle: Probability | None = None
    securities: Probability | None = None
    insurance: Probability | None = None
    provident_fund: Probability | None = None
    e_asset: Probability | None = None


def law_freeze_years() -> PerAsset:
    # Civil Procedure Law interpretation: deposits 1 year, movables 2, real estate and other
    # property rights 3. The provident fund follows the region's provident_fund_freeze_years.
    return PerAsset(bank_deposit=1, vehicle=2, real_estate=3, securities=3, insurance=3, e_asset=1)


class WaitingFreeze(Frozen):
    """轮候: another authority froze the asset first; ours waits in line behind it."""

    probability: PerAssetProbability = Field(
        default_factory=PerAssetProbability,
        description="Chance, by asset type, that another authority froze it first.",
    )
    release_days: Distribution = Field(
        default=Constant(value=180), description="Until the earlier freeze is released."
    )
    remaining_share: Distribution = Field(
        default=Constant(value=0.5),
        description="Share of the value left for this case after the earlier authority.",
    )


class HardToFreeze(Frozen):
    """Securities, funds and insurance: stale data, freezes that fail or are slow."""

    failure_probability: PerAssetProbability = Field(
        default_factory=PerAssetProbability,
        description="Extra chance, by asset type, that a control fails and must be redone.",
    )
    extra_delay_days: PerAsset = Field(
        default_factory=PerAsset, description="Mean extra delay of a control (exponential)."
    )


class Freeze(Frozen):
    """Freeze periods, renewal before expiry, lapse, waiting freezes, hard assets."""

    period_years: PerAsset = Field(
        default_factory=law_freeze_years,
        description="Freeze period by asset type (regions may override in policy).",
    )
    renew_lead_days: NonNegative = Field(
        default=30, description="An officer starts a renewal this long before expiry."
    )
    renewal_miss_probability: Probability = Field(
        default=0.0, description="Chance a needed renewal is not made at all (the freeze lapses)."
    )
    waiting: WaitingFreeze = WaitingFreeze()
    hard: HardToFreeze = HardToFreeze()


class SaleRoute(Frozen):
    """Judicial sale of one asset type: two online auctions, then a fixed-price sale."""

    preparation_days: Distribution = Field(
        default=Constant(value=45), description="Freeze to first notice: valuation, orders."
    )
    first_notice_days: NonNegative = Field(default=30, description="Notice before auction 1.")
    start_price_ratio: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.7, description="First auction's starting price, share of the valuation."
    )
    second_notice_days: NonNegative = Field(
        default=15, description="Notice before the second auction (15 real estate, 7 movables)."
    )
    second_price_cut: Annotated[float, Field(ge=0, le=0.2)] = Field(
        default=0.2, description="Second auction's price cut (at most 20%)."
    )
    fixed_price_days: NonNegative = Field(default=60, description="The fixed-price sale (变卖).")
    success_probability: tuple[Probability, Probability, Probability] = Field(
        default=(0.5, 0.4, 0.3),
        description="Chance of a sale in auction 1, auction 2, the fixed-price sale.",
    )
    hammer_premium: Distribution = Field(
        default=Constant(value=0.1),
        description="Winning price above the starting price, as a share of it.",
    )
    payment_days: NonNegative = Field(default=10, description="Auction to buyer's payment.")
    transfer_days: NonNegative = Field(
        default=20, description="Title transfer after payment (Zhejiang reform: 20 -> 2 days)."
    )


def _movables() -> SaleRoute:
    return SaleRoute(first_notice_days=15, second_notice_days=7)


class Sale(Frozen):
    """Sales of real estate and vehicles (auction rounds, notices, title transfer)."""

    real_estate: SaleRoute = SaleRoute()
    vehicle: SaleRoute = Field(default_factory=_movables)


class CreditPunishment(Frozen):
    """Dishonest list, consumption and exit restriction: pressure to pay voluntarily.

    Restrictions start when the officer first handles the case; a share of debtors then
    pays the rest of the claim after a delay whose hazard rises with time (gamma, shape > 1).
    Another share pays only part of what is still owed (a settlement by instalments, 执行和解,
    or what the debtor can raise): the case closes partly performed unless its assets pay
    the rest.
    """

    pays_probability: Probability = Field(
        default=0.0, description="Share of debtors who pay the rest under the restrictions."
    )
    pays_part_probability: Probability = Field(
        default=0.0,
        description="Share of debtors who pay part of what is still owed under the "
        "restrictions (with pays_probability, at most 1).",
    )
    part_share: Distribution = Field(
        default=Constant(value=0.5),
        description="Share of what is still owed such a debtor pays (draws above 1 count as 1).",
    )
    days_to_pay: Distribution = Field(
        default=Constant(value=120), description="Restrictions to voluntary payment, in days."
    )

    @model_validator(mode="after")
    def _shares_add_up(self) -> CreditPunishment:
        total = self.pays_probability + self.pays_part_probability
        if total > 1:
            raise ValueError(
                f"pays_probability ({self.pays_probability:g}) and pays_part_probability "
                f"({self.pays_part_probability:g}) are shares of the same debtors: together "
                f"they must be at most 1, not {total:g}"
            )
        return self


class TerminatedPool(Frozen):
    """终本: terminated for now, re-queried, restored when assets appear."""

    min_days_after_filing: NonNegative = Field(
        default=90, description="终本 no sooner than this after filing (more than 3 months)."
    )
    requery_interval_days: Positive = Field(
        default=182.5, description="The pool is re-queried this often (every 6 months)."
    )
    requery_years: Positive = Field(default=5, description="...for this many years.")
    requery_share: Probability = Field(
        default=1.0,
        description="Share of the cases closed 终本 (or partly performed) whose debtors the "
        "automatic re-query takes in; the others are not re-queried and never restored.",
    )
    emergence_probability: Probability = Field(
        default=0.0,
        description="Chance that, at a re-query, a pool debtor holds new assets (drawn from "
        "[debtors]); those the network reaches are leads.",
    )
    restore_min_share: Probability = Field(
        default=0.0,
        description="A lead is worth restoring when the realisable value found is at least "
        "this share of the claim still owed.",
    )
    followup_probability: Probability = Field(
        default=1.0,
        description="Chance the court acts on a lead worth restoring (恢复执行): small "
        "balances, other creditors' freezes and officer time keep many leads idle.",
    )
    voluntary_payment_probability: Probability = Field(
        default=0.0,
        description="Chance that, at a re-query, a pool debtor under credit punishment pays "
        "what is still owed: the case is restored and closes as performed.",
    )
    closing_officer_days: Distribution = Field(
        default=Constant(value=0.2),
        description="An officer's work to close a case that still owes (终本 or partly "
        "performed: the report, the interview, the notice), in working days, once the "
        "conditions hold (the minimum time after filing, the investigation done).",
    )
    approval_working_days: Distribution = Field(
        default=Constant(value=0.0),
        description="Then the approval (合议, the head's sign-off), in working days.",
    )


class Matters(Frozen):
    """Matters derived from a case that count as case numbers of their own (案-件比)."""

    objection_probability: Probability = Field(
        default=0.0, description="Chance a case draws an objection (执行异议), a new matter."
    )
    objection_officer_days: Distribution = Field(
        default=Constant(value=1.0), description="Officer working days an objection costs."
    )
    objection_days: Distribution = Field(
        default=Constant(value=30), description="Filing of the objection to its closing."
    )


class Disbursement(Frozen):
    """Case funds: money reaches the court's account, then is paid to the creditor."""

    days: Distribution = Field(
        default=Constant(value=15), description="Court account to creditor, in days."
    )


class CalibrationTarget(Frozen):
    """A published figure the scenario must reproduce (``chakong calibrate --check``): a
    ``target`` (fitted by ``--fit``, judged by ``--check``), or only a ``check`` (shown
    beside the model, never fitted, and not judged by the exit status)."""

    metric: str
    target: float
    role: Literal["target", "check"] = Field(
        default="target",
        description="target: fitted and judged; check: a published figure only shown beside "
        "the model.",
    )
    tolerance: Positive | None = Field(default=None, description="Absolute tolerance.")
    tolerance_rel: Positive | None = Field(default=None, description="Relative tolerance.")
    scales_with_volume: bool = Field(
        default=False, description="A volume (cases a year): the target scales with --scale."
    )
    source: str = ""

    @model_validator(mode="after")
    def _one_tolerance(self) -> CalibrationTarget:
        if (self.tolerance is None) == (self.tolerance_rel is None):
            raise ValueError("give exactly one of 'tolerance' and 'tolerance_rel'")
        return self


FitBounds = tuple[float, float]


def flatten_fit(value: Any) -> Any:
    """The ``[fit]`` table as ``{dotted path: (low, high)}``: TOML's dotted keys
    (``terminated_pool.emergence_probability = [0.1, 0.3]``) make nested tables, flattened
    here; each path must end in a ``[low, high]`` pair of finite numbers, low below high."""
    if not isinstance(value, dict):
        raise ValueError("must be a table of dotted paths and [low, high] bounds")
    flat: dict[str, FitBounds] = {}
    problems: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict) and node:
            for key, sub in node.items():
                walk(sub, f"{path}.{key}" if path else str(key))
            return
        where = path
        if not isinstance(node, list | tuple) or len(node) != 2:
            problems.append(f"{where}: expected [low, high], got {node!r}")
            return
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in node):
            problems.append(f"{where}: low and high must be numbers, got {list(node)!r}")
            return
        low, high = float(node[0]), float(node[1])
        if not (math.isfinite(low) and math.isfinite(high)):
            problems.append(f"{where}: low and high must be finite, got {list(node)!r}")
        elif low >= high:
            problems.append(f"{where}: low ({low:g}) must be less than high ({high:g})")
        else:
            flat[path] = (low, high)

    if value:
        walk(value, "")
    if problems:
        raise ValueError("; ".join(problems))
    return flat
