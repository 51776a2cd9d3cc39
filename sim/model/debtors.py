"""Debtors and what they own, drawn from the scenario's ``[debtors]`` table.

A share ``nothing_share`` of debtors own nothing at all; every other debtor holds each asset
type independently with its ``hold_probability``, ``count`` items of it, each worth a draw of
``value_yuan``. The same factory serves the simulation and the reference API's fixtures.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from sim.scenario.distributions import sampler
from sim.scenario.schema import AssetType, Debtors


@dataclass(frozen=True, slots=True)
class Asset:
    """One item a debtor owns."""

    index: int  # position among the debtor's assets
    asset_type: AssetType
    value_yuan: float


class DebtorFactory:
    """Draws debtors' assets from one random stream."""

    def __init__(self, debtors: Debtors, rng: np.random.Generator) -> None:
        self.nothing_share = debtors.nothing_share
        self._uniform = _uniforms(rng)
        self._types = [
            (asset, spec.hold_probability, sampler(spec.count, rng), sampler(spec.value_yuan, rng))
            for asset, spec in debtors.assets.items()
        ]

    def assets(self) -> tuple[Asset, ...]:
        """The assets of one new debtor (empty for a debtor with nothing)."""
        uniform = self._uniform
        if uniform() < self.nothing_share:
            return ()
        out: list[Asset] = []
        for asset, p, count, value in self._types:
            if uniform() < p:
                for _ in range(max(1, round(count()))):
                    out.append(Asset(len(out), asset, round(value(), 2)))
        return tuple(out)


def _uniforms(rng: np.random.Generator, block: int = 512) -> Callable[[], float]:
    def blocks() -> Iterator[list[float]]:
        while True:
            yield rng.random(block).tolist()

    return itertools.chain.from_iterable(blocks()).__next__
