"""Settlement: how much of each sum of money the claim takes, in whole fen.

Money reaches a case in time order (the realisation timeline calls :meth:`take` as each sum
arrives). The claim takes what it still needs; a provident fund (公积金) may give at most
``provident_fund_annual_cap_yuan`` per calendar year per debtor, across all the debtor's
cases and funds (a ledger the world keeps by debtor and year), so a balance above the cap is
taken in yearly steps. A case settles its timeline ahead of the clock, so two cases of one
debtor share the cap in the order their money is settled, not always in time order. Settling
in whole fen keeps every sum exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from sim.model.calendar import CalendarYears
from sim.model.streams import compiled_or

FEN_PER_YUAN: Final = 100
YEARS_PER_DEBTOR: Final = 64  # the ledger's key: debtor * 64 + the year's index on the clock

FundLedger = dict[int, int]
"""Provident fund taken, in fen, by debtor and calendar year (one int key: a tuple and its
year would take twice the memory, and the ledger keeps every year a debtor paid in)."""


def to_fen_python(yuan: float) -> int:
    """A sum in whole fen (Python's rounding: half to even)."""
    return round(yuan * FEN_PER_YUAN)


# the same rounding in C (sim/model/_keyed.c), a few times cheaper a call; Final: a C
# variable to compiled callers, as keyed_uniform
to_fen: Final[Callable[[float], int]] = compiled_or("to_fen", to_fen_python)


def round_yuan_python(yuan: float) -> float:
    """A sum in yuan to whole fen (Python's round to 2 places: half to even, on the float's
    exact value)."""
    return round(yuan, 2)


# the same float from C, without round's formatting and parsing of the digits
round_yuan: Final[Callable[[float], float]] = compiled_or("round_yuan", round_yuan_python)


class Settlement:
    """What one debtor still owes on one claim, and the provident fund taken per year."""

    __slots__ = ("cap", "debtor", "fund_taken", "remaining", "years")

    def __init__(
        self,
        claim_yuan: float,
        years: CalendarYears,
        fund_cap_yuan: float,
        ledger: FundLedger | None = None,
        debtor: int = -1,
    ) -> None:
        self.remaining = to_fen(claim_yuan)
        self.years = years
        self.cap = None if math.isinf(fund_cap_yuan) else to_fen(fund_cap_yuan)
        if len(years.starts) > YEARS_PER_DEBTOR:
            raise ValueError(f"the fund ledger keys at most {YEARS_PER_DEBTOR} years a debtor")
        self.fund_taken = {} if ledger is None else ledger  # debtor and year -> fen
        self.debtor = debtor

    @property
    def paid_off(self) -> bool:
        return self.remaining <= 0

    def take_all(self) -> int:
        """The debtor pays everything still owed (voluntary payment); returns fen."""
        fen, self.remaining = self.remaining, 0
        return max(fen, 0)

    def take_share(self, share: float) -> int:
        """The debtor pays ``share`` of what is still owed (part payment); returns fen."""
        fen = min(max(round(self.remaining * share), 0), max(self.remaining, 0))
        self.remaining -= fen
        return fen

    def take(self, at: float, available_fen: int, provident_fund: bool = False) -> int:
        """Take, at time ``at``, what the claim needs of ``available_fen``; returns fen taken."""
        take = min(available_fen, self.remaining)
        if provident_fund and self.cap is not None:
            key = self.debtor * YEARS_PER_DEBTOR + self.years.index_of(at)
            take = min(take, self.cap - self.fund_taken.get(key, 0))
            if take > 0:
                self.fund_taken[key] = self.fund_taken.get(key, 0) + take
        if take <= 0:
            return 0
        self.remaining -= take
        return take
