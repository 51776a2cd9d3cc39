"""Case funds: money reaches the court's account, then is disbursed to the creditor after
``[disbursement] days`` (the 30-day rule bounds it in practice)."""

from __future__ import annotations

from sim.model.streams import key_of, keyed_sample
from sim.scenario.stages import Disbursement

PAYOUT = key_of("payout")


class CaseFunds:
    def __init__(self, spec: Disbursement) -> None:
        self.days = spec.days

    def paid_out_at(self, received: float, seed: int, source: int, step: int) -> float:
        """When money received at ``received`` reaches the creditor: the case's draw, keyed
        by its ``seed``, the asset the money came from (``source``) and its ``step``."""
        return received + keyed_sample(self.days, seed, PAYOUT, source, step)
