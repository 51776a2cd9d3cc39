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

import math
import zlib
from array import array
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from sim.scenario.distributions import Constant, Exponential, Gamma, Uniform


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


# ---------------------------------------------------------------- keyed draws

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_UNIT = 1.0 / 9007199254740992.0  # 2**-53


def _mix(z: int) -> int:
    """The splitmix64 finaliser: a bijection that scatters nearby inputs."""
    z = (z ^ (z >> 30)) * _M1 & _MASK
    z = (z ^ (z >> 27)) * _M2 & _MASK
    return z ^ (z >> 31)


def keyed_uniform_python(seed: int, *keys: int) -> float:
    """A uniform on [0, 1) fixed by ``seed`` and ``keys`` alone (a counter-based draw).

    A case's yes-or-no chances (is this record wrong, does this auction round sell) are
    keyed by what they are about (the link, the asset, the round), not by the order they
    are asked in, so two scenarios that ask in a different order, or ask more questions,
    still give the same case the same answers: common random numbers, entity by entity.

    ``_mix(seed)``, then ``_mix(z + key * golden + 1)`` for each key, written out in line:
    this runs some eight times a matter. The install compiles the same chain
    (``sim/model/_keyed.c``): 0.05 µs a draw against 2.8, and :func:`keyed_uniform` is that
    where it was built, this where not: the same bits either way (test_distributions holds
    both to :func:`_mix`).
    """
    z = seed & _MASK
    z = (z ^ (z >> 30)) * _M1 & _MASK
    z = (z ^ (z >> 27)) * _M2 & _MASK
    z ^= z >> 31
    for k in keys:
        z = (z + k * _GOLDEN + 1) & _MASK
        z = (z ^ (z >> 30)) * _M1 & _MASK
        z = (z ^ (z >> 27)) * _M2 & _MASK
        z ^= z >> 31
    return (z >> 11) * _UNIT


def compiled_or(name: str, python: Any, module: str = "sim.model._keyed") -> Any:
    """``name`` from the compiled kernels (``sim/model/_keyed.c``, or ``module``), or
    ``python``, the same function in Python, when the install had no C compiler (or built
    an older kernel): the same results, slower."""
    from importlib import import_module

    try:
        return getattr(import_module(module), name)
    except (ImportError, AttributeError):
        return python


# Final: compiled modules read it from a C variable, not from a module's dictionary
keyed_uniform: Final[Callable[..., float]] = compiled_or("keyed_uniform", keyed_uniform_python)
KEYED_KERNEL = "python" if keyed_uniform is keyed_uniform_python else "compiled"


HELD: Final = 1 << 64  # a bit above those the keyed draws read


def held(value: int) -> int:
    """``value`` as a key or seed of :func:`keyed_uniform`: plus ``2**64``, which leaves
    its low 64 bits, all the draw reads, as they were. The same draws; but compiled code
    keeps an int this large (from any ``value`` of at least 0) as a pointer to one int
    object and passes it to the draw as it is, where it boxes a smaller one into a new
    object at every call (two such boxings a draw)."""
    return value + HELD


def key_of(name: str) -> int:
    """A stable integer key for a name (for :func:`keyed_uniform`), :func:`held`."""
    return held(_key(name))


def keyed_sample(dist: Any, seed: int, *keys: int) -> float:
    """A draw of ``dist`` fixed by ``seed`` and ``keys`` (its inverse at a keyed uniform)."""
    return dist.ppf(keyed_uniform(seed, *keys))


class Inverse:
    """A distribution's inverse (its ``ppf``), made once for the keyed draws of a model
    part (:func:`inverse`): for the common families, the same arithmetic as the
    distribution's ``ppf``, compiled, value for value; for the others, its ``ppf``."""

    def __init__(self, dist: Any) -> None:
        self.dist = dist

    def at(self, u: float) -> float:
        """The value at ``u`` on [0, 1). Compiled callers call this method (called
        directly, through the class's table), not the instance (through Python's call
        protocol), and draw ``u`` themselves: ``inv.at(keyed_uniform(seed, a, b))``, with
        no tuple made of the keys."""
        return float(self.dist.ppf(u))

    def __call__(self, u: float) -> float:
        return self.at(u)

    def keyed(self, seed: int, *keys: int) -> float:
        """The draw fixed by ``seed`` and ``keys``, as :func:`keyed_sample` draws it."""
        return self.at(keyed_uniform(seed, *keys))


class _ConstantInverse(Inverse):
    def __init__(self, dist: Any) -> None:
        super().__init__(dist)
        self.value: float = dist.value

    def at(self, u: float) -> float:
        return self.value


class _ExponentialInverse(Inverse):
    def __init__(self, dist: Any) -> None:
        super().__init__(dist)
        self.mean: float = dist.mean_

    def at(self, u: float) -> float:
        return -self.mean * math.log1p(-u)


class _UniformInverse(Inverse):
    def __init__(self, dist: Any) -> None:
        super().__init__(dist)
        self.low: float = dist.low
        self.high: float = dist.high

    def at(self, u: float) -> float:
        return self.low + (self.high - self.low) * u


class _GammaInverse(Inverse):
    def __init__(self, dist: Any) -> None:
        super().__init__(dist)
        from scipy.special.cython_special import gammaincinv  # as Gamma.ppf calls it

        self.gammaincinv: Any = gammaincinv
        self.shape: float = dist.shape
        self.mean: float = dist.mean_

    def at(self, u: float) -> float:
        return float(self.gammaincinv(self.shape, u)) * self.mean / self.shape


def inverse(dist: Any) -> Inverse:
    """The inverse of ``dist`` (a :mod:`sim.scenario.distributions` distribution)."""
    if isinstance(dist, Constant):
        return _ConstantInverse(dist)
    if isinstance(dist, Exponential):
        return _ExponentialInverse(dist)
    if isinstance(dist, Uniform):
        return _UniformInverse(dist)
    if isinstance(dist, Gamma):
        return _GammaInverse(dist)
    return Inverse(dist)


# ---------------------------------------------------------------- draws in blocks


Draws = Callable[[], Any]
"""Successive draws: a call gives the next (see :data:`Blocks`)."""


class BlocksPython:
    """Successive values, drawn ``block`` at a time by ``draw(block)`` and handed out one a
    call. The first block is drawn at the first call, each next one when the last is used
    up: a model draws from these for every matter.

    A block of floats is kept packed (an ``array('d')``, 8 bytes a value), not as a list of
    float objects (32 and more): a national run holds some 1,700 of these, one for each
    desk's and link's draws, and reads each at moments far apart, so what a draw costs is
    mostly bringing its value back into the cache. Packed, that is a cache line for eight
    draws, not one or two for each (about 8% of a national run).

    :data:`Blocks` is this class in C (``sim/model/_blocks.c``) where the install built it:
    the same values, in the same order, called by vectorcall and reading the block's
    memory directly (some 60 machine instructions a value, not 250)."""

    def __init__(self, draw: Callable[[int], Any], block: int) -> None:
        self._draw = draw
        self._block = block
        self._values: Any = ()
        self._next = 0

    def next(self) -> Any:
        """The next value (as calling the instance)."""
        i = self._next
        values = self._values
        if i == len(values):
            values = self._values = self._draw(self._block)
            i = 0
        self._next = i + 1
        return values[i]

    def __call__(self) -> Any:
        return self.next()


# Final: compiled modules read it from a C variable, not from a module's dictionary
Blocks: Final[Callable[[Callable[[int], Any], int], Draws]] = compiled_or(
    "Blocks", BlocksPython, "sim.model._blocks"
)


def _packed(values: np.ndarray) -> Any:
    """A block of draws as a packed array of doubles (the same floats on reading), or as a
    list if the family draws other numbers."""
    return array("d", values.tobytes()) if values.dtype == np.float64 else values.tolist()


def sampler(dist: Any, rng: np.random.Generator, block: int = 256) -> Draws:
    """Draws of ``dist`` (a :mod:`sim.scenario.distributions` distribution) from ``rng``,
    ``block`` at a time: a few tens of nanoseconds a value instead of the microsecond of a
    scalar numpy call; the sequence is still fully determined by ``rng``."""
    if isinstance(dist, Constant):
        value = dist.value
        return Blocks(lambda n: [value] * n, block)
    return Blocks(lambda n: _packed(dist.sample_many(rng, n)), block)


def uniforms(rng: np.random.Generator, block: int = 256) -> Draws:
    """Successive uniforms on [0, 1) from ``rng``, drawn ``block`` at a time (cheap calls)."""
    return Blocks(lambda n: _packed(rng.random(n)), block)


def integers(rng: np.random.Generator, n: int, block: int = 256) -> Draws:
    """Successive uniform picks from ``range(n)``, drawn ``block`` at a time."""
    if n == 1:
        return Blocks(lambda k: [0] * k, block)
    return Blocks(lambda k: array("q", rng.integers(0, n, k).tobytes()), block)
