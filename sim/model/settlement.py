"""Settlement: which money the claim takes, in time order, under the provident-fund cap.

Controls produce *offers*: money that could reach the court's account at a time (a deposit
deducted, a sale's proceeds, a provident fund's balance). Settlement walks the offers in
time order and takes from each what the claim still needs. A provident fund (公积金) may give
at most ``provident_fund_annual_cap_yuan`` per calendar year per debtor, so a balance above
the cap is taken in yearly steps, on the 1 January after each step; offers that arrive when
the claim is already paid are not taken (a sale is withdrawn, a deposit released).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from sim.calendar import CalendarYears
from sim.model.debtors import Asset
from sim.scenario.schema import AssetType

FEN_PER_YUAN = 100


def to_fen(yuan: float) -> int:
    """Money is settled in whole fen, so sums are exact."""
    return round(yuan * FEN_PER_YUAN)


@dataclass(slots=True)
class Offer:
    at: float  # when the money could reach the court's account
    asset: Asset
    channel: str
    kind: str  # "deduct" or "sale"
    amount: float  # the most this asset can give


@dataclass(frozen=True, slots=True)
class Payment:
    """Money taken from one asset into the court's account."""

    at: float
    asset: Asset
    channel: str
    kind: str
    amount: float


def settle(
    claim: float,
    offers: list[Offer],
    years: CalendarYears,
    provident_fund_cap: float,
) -> list[Payment]:
    """The payments that settle ``claim`` from ``offers``, in time order (in whole fen)."""
    queue = [(o.at, i, to_fen(o.amount), o) for i, o in enumerate(offers)]
    heapq.heapify(queue)
    remaining = to_fen(claim)
    cap = to_fen(provident_fund_cap) if provident_fund_cap != float("inf") else None
    fund_taken: dict[int, int] = {}  # calendar year -> provident fund taken, in fen
    payments: list[Payment] = []
    while queue and remaining > 0:
        at, i, left, offer = heapq.heappop(queue)
        take = min(left, remaining)
        capped = cap is not None and offer.asset.asset_type == AssetType.provident_fund
        if capped:
            year = years.year_of(at)
            take = min(take, cap - fund_taken.get(year, 0))
        if take > 0:
            payments.append(
                Payment(at, offer.asset, offer.channel, offer.kind, take / FEN_PER_YUAN)
            )
            remaining -= take
            left -= take
            if capped:
                fund_taken[year] = fund_taken.get(year, 0) + take
        if capped and left > 0 and remaining > 0:
            heapq.heappush(queue, (years.next_year_start(at), i, left, offer))
    return payments
