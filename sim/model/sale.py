"""Sale (拍卖, 变卖) of real estate and vehicles.

After preparation (valuation, orders) and a notice period, a first online auction starts at
about 70% of the valuation; unsold, a second follows after a shorter notice (15 days for
real estate, 7 for movables) with the price cut by at most 20%; unsold again, a 60-day
fixed-price sale at the second price. Each round succeeds with its own chance; an auction's
winning price is the starting price plus a premium, the fixed-price sale's is the price. The
buyer pays after ``payment_days``, and the title transfer takes ``transfer_days`` more (the
Zhejiang reform cut it from 20 days to 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sim.model.streams import inverse, key_of, keyed_uniform
from sim.scenario.schema import AssetType
from sim.scenario.stages import Sale, SaleRoute

SELLS: Final = key_of("sells")  # Final: compiled code reads C variables
PREPARE: Final = key_of("prepare")
PREMIUM: Final = key_of("premium")


@dataclass(slots=True, init=False)  # its __init__ below, compiled (a dataclass's is Python)
class SaleOutcome:
    sold: bool
    rounds: int  # auction rounds held (3 = the fixed-price sale too)
    paid_at: float  # when the proceeds reach the court's account (inf if unsold)
    proceeds: float
    transferred_at: float  # when the title transfer is done

    def __init__(
        self, sold: bool, rounds: int, paid_at: float, proceeds: float, transferred_at: float
    ) -> None:
        self.sold = sold
        self.rounds = rounds
        self.paid_at = paid_at
        self.proceeds = proceeds
        self.transferred_at = transferred_at


class Route:
    """One asset type's sale terms (:class:`sim.scenario.stages.SaleRoute`), copied into
    compiled attributes: a sale reads nine of them, and pydantic's by name."""

    def __init__(self, spec: SaleRoute) -> None:
        self.preparation = inverse(spec.preparation_days)
        self.premium = inverse(spec.hammer_premium)
        self.first_notice_days: float = spec.first_notice_days
        self.start_price_ratio: float = spec.start_price_ratio
        self.second_notice_days: float = spec.second_notice_days
        self.second_price_cut: float = spec.second_price_cut
        self.fixed_price_days: float = spec.fixed_price_days
        self.payment_days: float = spec.payment_days
        self.transfer_days: float = spec.transfer_days
        # the chance of a sale in each round: auction 1, auction 2, the fixed-price sale
        self.success: tuple[float, float, float] = spec.success_probability


class SaleStage:
    def __init__(self, spec: Sale) -> None:
        self.routes = {
            AssetType.real_estate: Route(spec.real_estate),
            AssetType.vehicle: Route(spec.vehicle),
        }

    def sell(
        self,
        asset_type: AssetType,
        valuation: float,
        start: float,
        seed: int = 0,
        index: int = 0,
    ) -> SaleOutcome:
        """Run the rounds for an asset whose freeze took effect at ``start``; every draw is
        keyed by the case's ``seed``, the asset's ``index`` and the round."""
        s = self.routes[asset_type]
        prepared = s.preparation.at(keyed_uniform(seed, PREPARE, index))
        t = start + prepared + s.first_notice_days
        price = valuation * s.start_price_ratio
        rounds = [(t, price)]
        t += 1 + s.second_notice_days  # bidding runs a day, then the next notice
        price *= 1 - s.second_price_cut
        rounds.append((t, price))
        rounds.append((t + 1 + s.fixed_price_days, price))  # fixed price, same as round 2
        for n in range(3):
            end, base = rounds[n]
            if keyed_uniform(seed, SELLS, index, n) < s.success[n]:
                if n < 2:  # an auction: the start price plus the bidding's premium
                    premium = s.premium.at(keyed_uniform(seed, PREMIUM, index, n))
                    sold_for = base * (1 + max(0.0, premium))
                else:  # 变卖: a fixed-price sale sells at the fixed price
                    sold_for = base
                paid = end + 1 + s.payment_days
                return SaleOutcome(True, n + 1, paid, sold_for, paid + s.transfer_days)
        end = rounds[-1][0]
        return SaleOutcome(False, 3, float("inf"), 0.0, end)
