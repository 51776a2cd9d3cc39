"""Sale: assets that must be sold (real estate, vehicles) go through a sale stage.

From the freeze, the sale takes ``[sale] days`` and yields ``price_ratio`` of the asset's
valuation (a first online auction starts at about 70% of valuation). The proceeds are an
offer of money to the case; settlement decides how much of it the claim needs.
"""

from __future__ import annotations

import numpy as np

from sim.model.freeze import Hold
from sim.model.settlement import Offer
from sim.scenario.distributions import sampler
from sim.scenario.schema import Sale


class SaleStage:
    def __init__(self, spec: Sale, rng: np.random.Generator) -> None:
        self.days = sampler(spec.days, rng)
        self.price_ratio = spec.price_ratio

    def offer(self, hold: Hold) -> Offer:
        asset = hold.finding.asset
        return Offer(
            at=hold.at + self.days(),
            asset=asset,
            channel=hold.finding.via.channel,
            kind="sale",
            amount=asset.value_yuan * self.price_ratio,
        )
