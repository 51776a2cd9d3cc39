"""Random streams: one independent generator per source of randomness, from one seed.

A replication owns its streams; nothing here is global. Each stream is a child of
``SeedSequence(seed)`` whose spawn key names the replication, the source (``"arrivals"``,
``"debtors"``, ``"agency"``...) and, where it helps, the region or agency it serves.
``SeedSequence(seed).spawn(n)`` would number the children 0..n-1 in the order asked for;
naming them instead keeps a stream the same when the scenario around it changes (a region
added, a channel switched off), which is what makes common random numbers hold across
scenarios run with the same seed.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """The random streams of one replication."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        self._made: set[tuple[str, ...]] = set()

    def sequence(self, source: str, *names: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(
            self.seed, spawn_key=(self.replication, _key(source), *(_key(n) for n in names))
        )

    def rng(self, source: str, *names: str) -> np.random.Generator:
        """The generator for ``source`` (and ``names``); each may be asked for once."""
        ident = (source, *names)
        if ident in self._made:
            raise ValueError(f"stream {ident} already handed out: streams must not be shared")
        self._made.add(ident)
        return np.random.Generator(np.random.PCG64(self.sequence(source, *names)))
