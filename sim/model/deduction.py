"""Deduction (划扣): taking money from a frozen asset that is not sold.

Over a channel that deducts online the money is taken the link's control latency after the
freeze takes effect; otherwise an officer does it in person. A provident fund is deducted
again on each 1 January while its balance and the claim last, under the region's yearly
cap (see :mod:`sim.model.settlement`).
"""

from __future__ import annotations

from typing import Final

from sim.model.freeze import Hold
from sim.scenario.schema import SOLD_ASSETS, AssetType

# held in C variables (Final), not looked up by name at each matter
_SOLD: Final = SOLD_ASSETS
_PROVIDENT_FUND: Final = AssetType.provident_fund


def is_sold(hold: Hold) -> bool:
    return hold.finding.asset.asset_type in _SOLD


def is_provident_fund(hold: Hold) -> bool:
    return hold.finding.asset.asset_type == _PROVIDENT_FUND


def needs_officer(hold: Hold) -> bool:
    return not hold.finding.via.online_deduct
