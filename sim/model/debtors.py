"""Debtors and what they own, drawn from the scenario's ``[debtors]`` table.

A share ``nothing_share`` of debtors own nothing at all; every other debtor holds each asset
type independently with its ``hold_probability``, ``count`` items of it, each worth a draw of
``value_yuan``. The same factory serves the simulation and the reference API's fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from sim.model.settlement import round_yuan
from sim.model.streams import sampler, uniforms
from sim.scenario.schema import AssetType, Debtors

# Python's round (a builtin) held in a C variable (Final), not looked up by name
_round: Final = round


@dataclass(slots=True, init=False)  # its __init__ below, compiled (a dataclass's is Python)
class Asset:
    """One item a debtor owns (not to be changed once drawn: the cases, the pool and the
    event log share it)."""

    index: int  # position among the debtor's assets
    asset_type: AssetType
    value_yuan: float

    def __init__(self, index: int, asset_type: AssetType, value_yuan: float) -> None:
        self.index = index
        self.asset_type = asset_type
        self.value_yuan = value_yuan

    def __hash__(self) -> int:  # by value, as the frozen record it was
        return hash((self.index, self.asset_type, self.value_yuan))


class DebtorFactory:
    """Draws debtors' assets from one random stream."""

    def __init__(self, debtors: Debtors, rng: np.random.Generator) -> None:
        self.nothing_share = debtors.nothing_share
        # a child stream per sampler, so a change to one asset type's numbers leaves the
        # draws of the others as they were (common random numbers)
        kinds = list(debtors.assets.items())
        children = iter(rng.spawn(1 + 2 * len(kinds)))
        self._uniform = uniforms(next(children), block=512)
        self._types = [
            (
                asset,
                spec.hold_probability,
                sampler(spec.count, next(children)),
                sampler(spec.value_yuan, next(children)),
            )
            for asset, spec in kinds
        ]

    def assets(self) -> tuple[Asset, ...]:
        """The assets of one new debtor (empty for a debtor with nothing)."""
        u: float = self._uniform()  # read unboxed (a draw is Any)
        if u < self.nothing_share:
            return ()
        return self.holdings()

    def holdings(self) -> tuple[Asset, ...]:
        """Assets of a debtor who is not in the 'nothing' share (may still be empty)."""
        uniform = self._uniform
        out: list[Asset] = []
        for asset, p, count, value in self._types:
            u: float = uniform()  # draws read unboxed (a draw is Any)
            if u < p:
                n: int = _round(count())
                for _ in range(n if n > 1 else 1):
                    v: float = value()
                    out.append(Asset(len(out), asset, round_yuan(v)))
        return tuple(out)
