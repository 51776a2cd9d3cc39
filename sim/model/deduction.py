"""Deduction (划扣): taking money from a frozen asset that is not sold.

Over a channel that deducts online, the money is taken the link's control latency after
the freeze held; otherwise an officer does it in person (the case pays for the stint). A
provident fund's yearly cap is applied by settlement, not here.
"""

from __future__ import annotations

from sim.model.freeze import Hold
from sim.model.settlement import Offer
from sim.scenario.schema import SOLD_ASSETS


def is_sold(hold: Hold) -> bool:
    return hold.finding.asset.asset_type in SOLD_ASSETS


def needs_officer(hold: Hold) -> bool:
    return not hold.finding.via.link.online_deduct


def online_offer(hold: Hold) -> Offer:
    via = hold.finding.via
    return offer_at(hold, hold.at + via.control_latency())


def offer_at(hold: Hold, at: float) -> Offer:
    asset = hold.finding.asset
    return Offer(
        at=at,
        asset=asset,
        channel=hold.finding.via.channel,
        kind="deduct",
        amount=asset.value_yuan,
    )
