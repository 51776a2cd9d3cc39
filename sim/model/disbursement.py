"""Case funds: money reaches the court's account, then is disbursed to the creditor after
``[disbursement] days`` (the 30-day rule bounds it in practice)."""

from __future__ import annotations

import numpy as np

from sim.scenario.stages import Disbursement


class CaseFunds:
    def __init__(self, spec: Disbursement) -> None:
        self.days = spec.days

    def paid_out_at(self, received: float, rng: np.random.Generator) -> float:
        """When money received at ``received`` reaches the creditor (the case's draw)."""
        return received + self.days.sample(rng)
