"""Case funds: money reaches the court's account, then is disbursed to the creditor after
``[disbursement] days`` (the 30-day rule bounds it in practice)."""

from __future__ import annotations

import numpy as np

from sim.scenario.distributions import sampler
from sim.scenario.schema import Disbursement


class CaseFunds:
    def __init__(self, spec: Disbursement, rng: np.random.Generator) -> None:
        self.days = sampler(spec.days, rng)

    def paid_out_at(self, received: float) -> float:
        return received + self.days()
