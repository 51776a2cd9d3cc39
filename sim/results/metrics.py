"""The metric catalogue: every headline metric a run reports, defined once.

Each :class:`Metric` has its name, its unit and the decimals tables show, its kind (a
``rate`` is a share in [0, 1], shown in %; ``days``, ``count``, ``money`` and ``ratio`` are
shown as they are) and its meaning. The run's table, the comparison's and the sweep's, the
HTML reports, the precision rule's "is a rate" and the README's metric table (a test holds
it against :func:`markdown_table`) all come from here; the streaming statistics
(:class:`sim.results.observer.Observer`) compute them in this order.

The observation window is ``[warmup_days, horizon_days)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """What sort of quantity a metric is."""

    rate = "rate"  # a share in [0, 1], shown in %
    days = "days"  # a duration in simulated days
    count = "count"  # a number of things (per year, per day, or a time average)
    money = "money"  # yuan (per year)
    ratio = "ratio"  # one count over another, not a share


@dataclass(frozen=True)
class Metric:
    """One headline metric."""

    name: str
    unit: str
    decimals: int  # shown in tables (of the percentage, for a rate)
    kind: Kind
    meaning: str

    @property
    def is_rate(self) -> bool:
        return self.kind is Kind.rate


METRICS: tuple[Metric, ...] = (
    Metric(
        "throughput_cases_per_year",
        "cases/year",
        0,
        Kind.count,
        "matters closed in the window, per year",
    ),
    Metric(
        "cases_filed_per_year", "cases/year", 0, Kind.count, "matters filed in the window, per year"
    ),
    Metric(
        "time_to_close_days_mean",
        "days",
        1,
        Kind.days,
        "filing to closing, mean over matters closed in the window",
    ),
    Metric(
        "time_to_close_days_p50",
        "days",
        1,
        Kind.days,
        "filing to closing, median (from an HDR histogram)",
    ),
    Metric(
        "time_to_close_days_p90",
        "days",
        1,
        Kind.days,
        "filing to closing, 90th percentile (from an HDR histogram)",
    ),
    Metric(
        "time_to_recovery_days_mean",
        "days",
        1,
        Kind.days,
        "filing until the creditor received the last money, over closed cases that "
        "recovered anything",
    ),
    Metric(
        "recovery_rate",
        "%",
        1,
        Kind.rate,
        "money disbursed / money claimed, over closed cases (执行到位率)",
    ),
    Metric("fully_performed_rate", "%", 1, Kind.rate, "closed cases fully performed"),
    Metric(
        "partly_performed_rate",
        "%",
        1,
        Kind.rate,
        "closed cases partly performed (part of the claim still owed)",
    ),
    Metric(
        "terminated_for_now_rate",
        "%",
        1,
        Kind.rate,
        "closed cases terminated for now (终本: nothing realisable found)",
    ),
    Metric(
        "officer_utilization",
        "%",
        1,
        Kind.rate,
        "officer working days spent / officer working days available",
    ),
    Metric(
        "officer_wait_days_mean",
        "days",
        2,
        Kind.days,
        "filing until an officer starts on the matter",
    ),
    Metric(
        "time_in_system_days_mean",
        "days",
        1,
        Kind.days,
        "time matters filed in the window spent open (those open at the end count to the "
        "horizon)",
    ),
    Metric("backlog_mean", "cases", 0, Kind.count, "open matters, time average of daily samples"),
    Metric(
        "queries_per_day_central",
        "/day",
        1,
        Kind.count,
        "requests to agencies per day over the central channel (总对总)",
    ),
    Metric(
        "queries_per_day_local",
        "/day",
        1,
        Kind.count,
        "requests to agencies per day over the local channels (点对点)",
    ),
    Metric(
        "freeze_failure_rate",
        "%",
        1,
        Kind.rate,
        "controls that failed (a wrong or stale record, or an asset hard to freeze)",
    ),
    Metric(
        "late_answer_rate",
        "%",
        2,
        Kind.rate,
        "answers later than the agency's deadline (banks: 24 hours)",
    ),
    Metric(
        "money_disbursed_yuan_per_year",
        "yuan/year",
        0,
        Kind.money,
        "money paid out to creditors in the window, per year",
    ),
    Metric(
        "provident_fund_deducted_yuan_per_year",
        "yuan/year",
        0,
        Kind.money,
        "provident-fund money deducted in the window, per year",
    ),
    Metric(
        "voluntary_payments_per_year",
        "cases/year",
        0,
        Kind.count,
        "debtors paying under credit punishment (the rest, or part of it), per year",
    ),
    Metric(
        "renewal_failure_rate",
        "%",
        2,
        Kind.rate,
        "needed freeze renewals that were missed or too late (the freeze lapsed)",
    ),
    Metric(
        "case_to_matter_ratio",
        "matters/case",
        3,
        Kind.ratio,
        "matters opened (new cases, restored cases, objections) per new case (案-件比)",
    ),
    Metric(
        "restored_per_year",
        "cases/year",
        0,
        Kind.count,
        "终本 cases restored (恢复执行) as new matters, per year",
    ),
    Metric(
        "requery_pushes_per_year",
        "pushes/year",
        0,
        Kind.count,
        "终本 pool debtors re-queried, per year",
    ),
    Metric(
        "requery_leads_per_year",
        "leads/year",
        0,
        Kind.count,
        "终本 pool re-queries that found an asset lead, per year",
    ),
    Metric("requery_lead_rate", "%", 1, Kind.rate, "re-queries that found an asset lead"),
    Metric("requery_restore_rate", "%", 2, Kind.rate, "re-queries that restored the case"),
    Metric(
        "terminated_pool_mean", "debtors", 0, Kind.count, "debtors in the 终本 pool, time average"
    ),
    Metric(
        "terminated_pool_growth_per_year",
        "share/year",
        3,
        Kind.ratio,
        "change of the 终本 pool over the window, per year, as a share of its size at the "
        "window's start (0: steady; 2: it triples in a year)",
    ),
    Metric(
        "cases_per_officer_per_year",
        "cases/year",
        0,
        Kind.count,
        "matters closed in the window per officer, per year (2024: 928 a judge)",
    ),
)

CATALOGUE: dict[str, Metric] = {m.name: m for m in METRICS}

HEADLINE_METRICS: tuple[str, ...] = tuple(CATALOGUE)
"""Every metric a run reports, in the order tables show them."""

_UNKNOWN = Metric("", "", 3, Kind.count, "")  # a name from elsewhere: shown as it is


def metric(name: str) -> Metric:
    """The catalogue's entry for ``name`` (an unknown name is shown plainly, 3 decimals)."""
    return CATALOGUE.get(name, _UNKNOWN)


def unit(name: str) -> str:
    """The unit tables show beside a metric's values."""
    return metric(name).unit


def is_rate(name: str) -> bool:
    """A share in [0, 1] (shown as % in tables)."""
    return metric(name).is_rate


def unknown_metric(names: list[str] | tuple[str, ...], flag: str) -> str | None:
    """A one-line message for the first name that is not a metric, or None."""
    for name in names:
        if name not in CATALOGUE:
            return f"{flag} {name}: unknown metric; choose from {', '.join(HEADLINE_METRICS)}"
    return None


def format_value(value: float | None, name: str, signed: bool = False) -> str:
    """A metric's value as tables show it (rates in %, NaN as '-')."""
    m = metric(name)
    if value is None or math.isnan(value):
        return "-"
    if m.is_rate:
        value *= 100
    text = f"{value:,.{m.decimals}f}"
    if signed and not text.startswith("-"):
        text = "+" + text
    return text


def json_number(v: float | None) -> float | None:
    """A metric's value for JSON: None where it is missing, NaN or infinite."""
    return None if v is None or not math.isfinite(v) else v


def from_json_number(v: float | None) -> float:
    """A metric's value read from JSON: NaN where it was None."""
    return math.nan if v is None else float(v)


def markdown_table() -> str:
    """The README's metric table: one row per metric, in the catalogue's order."""
    lines = ["| metric | unit | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{m.name}` | {m.unit} | {m.meaning} |" for m in METRICS]
    return "\n".join(lines)
