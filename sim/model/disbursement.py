"""Case funds: money reaches the court's account, then is disbursed to the creditor after
``[disbursement] days`` (the 30-day rule bounds it in practice), on a working day in the
court's office hours."""

from __future__ import annotations

from typing import Final

from sim.model.calendar import WorkingTime
from sim.model.streams import inverse, key_of, keyed_uniform
from sim.scenario.stages import Disbursement

PAYOUT: Final = key_of("payout")  # Final: compiled code reads C variables
PAYOUT_HOUR: Final = key_of("payout hour")


class CaseFunds:
    def __init__(self, spec: Disbursement) -> None:
        self.days = inverse(spec.days)

    def paid_out_at(
        self, received: float, seed: int, source: int, step: int, court: WorkingTime | None = None
    ) -> float:
        """When money received at ``received`` reaches the creditor: the case's draw, keyed
        by its ``seed``, the asset the money came from (``source``) and its ``step``, moved
        into the ``court``'s office hours."""
        due = received + self.days.at(keyed_uniform(seed, PAYOUT, source, step))
        if court is None:
            return due
        return court.in_hours(due, keyed_uniform(seed, PAYOUT_HOUR, source, step))
