"""Probability distributions used in scenario files.

Each distribution is a small frozen object with ``sample(rng)`` (one draw from a numpy
``Generator``), ``sample_many(rng, n)`` (a vector of draws) and an analytic ``mean``, so that
tests can hold the model against theory. Every quantity they describe in chakong (durations,
money, counts) is non-negative, so every distribution's support lies in [0, inf).

In a scenario file a distribution is an inline table with a ``kind``::

    processing_days = { kind = "exponential", mean = 0.02 }
    claim_yuan = { kind = "lognormal", median = 60000, sigma = 1.1 }

and a bare number means a constant: ``latency_days = 0``.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    import numpy as np

# numpy and scipy are imported where a distribution draws, not here: reading and checking a
# scenario file (chakong validate, --help) needs neither, and they take most of a second
# to import.

_STANDARD_NORMAL = NormalDist()


_gammaincinv: Any = None
"""scipy's inverse of the regularised lower incomplete gamma function, once a gamma draw by
inversion has imported it (a global: the draw is on the model's hot path). Its scalar form
from ``cython_special``: the same function as the ufunc, value for value, at a third of the
cost for one number (no array machinery)."""


def _import_gammaincinv() -> Any:
    global _gammaincinv
    from scipy.special.cython_special import gammaincinv

    _gammaincinv = gammaincinv
    return gammaincinv


NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Distribution(BaseModel):
    # populate_by_name: a parameter named like a property (``mean_``, alias ``mean``) may
    # be given by either name
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def mean(self) -> float:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.sample_many(rng, 1)[0])

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    def ppf(self, u: float) -> float:
        """The inverse distribution function: the value at probability ``u`` in [0, 1).

        ``ppf`` of a uniform draw is a draw of the distribution; the model uses it for
        draws keyed by what they are about (see :func:`sim.model.streams.keyed_uniform`)."""
        raise NotImplementedError


class _GivenByMean(_Distribution):
    """A distribution given by its mean (the parameter ``mean``), and maybe a shape."""

    if TYPE_CHECKING:
        mean_: float  # declared by each subclass, with its own bounds

    @property
    def mean(self) -> float:
        return self.mean_


class Constant(_Distribution):
    """Always the same value."""

    kind: Literal["constant"] = "constant"
    value: NonNegative

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: np.random.Generator) -> float:
        return self.value

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        import numpy as np

        return np.full(n, self.value)

    def ppf(self, u: float) -> float:
        return self.value


class Exponential(_GivenByMean):
    """Exponential with the given mean (memoryless: Poisson gaps, M/M/c service)."""

    kind: Literal["exponential"] = "exponential"
    mean_: Positive = Field(alias="mean")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.exponential(self.mean_))

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_, n)

    def ppf(self, u: float) -> float:
        return -self.mean_ * math.log1p(-u)


class Lognormal(_Distribution):
    """Lognormal given by ``sigma`` (the s.d. of the log) and either ``mean`` or ``median``."""

    kind: Literal["lognormal"] = "lognormal"
    sigma: NonNegative
    mean_: Positive | None = Field(default=None, alias="mean")
    median: Positive | None = None

    @model_validator(mode="after")
    def _one_location(self) -> Lognormal:
        if (self.mean_ is None) == (self.median is None):
            raise ValueError("give exactly one of 'mean' and 'median'")
        return self

    @property
    def mu(self) -> float:
        if self.median is not None:
            return math.log(self.median)
        assert self.mean_ is not None
        return math.log(self.mean_) - self.sigma**2 / 2

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, n)

    def ppf(self, u: float) -> float:
        return math.exp(self.mu + self.sigma * _STANDARD_NORMAL.inv_cdf(max(u, 1e-300)))


class Gamma(_GivenByMean):
    """Gamma with the given mean and shape (shape 1 is exponential; integer shape is Erlang)."""

    kind: Literal["gamma"] = "gamma"
    mean_: Positive = Field(alias="mean")
    shape: Positive

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.shape, self.mean_ / self.shape, n)

    def ppf(self, u: float) -> float:
        inverse = _gammaincinv or _import_gammaincinv()
        return inverse(self.shape, u) * self.mean_ / self.shape


class Uniform(_Distribution):
    """Uniform on [low, high]."""

    kind: Literal["uniform"] = "uniform"
    low: NonNegative
    high: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("'high' must be >= 'low'")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def ppf(self, u: float) -> float:
        return self.low + (self.high - self.low) * u


class Triangular(_Distribution):
    """Triangular on [low, high] with the given mode."""

    kind: Literal["triangular"] = "triangular"
    low: NonNegative
    mode: NonNegative
    high: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ValueError("need low <= mode <= high and low < high")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, n)

    def ppf(self, u: float) -> float:
        a, c, b = self.low, self.mode, self.high
        cut = (c - a) / (b - a)
        if u < cut:
            return a + math.sqrt(u * (b - a) * (c - a))
        return b - math.sqrt((1 - u) * (b - a) * (b - c))


class Empirical(_Distribution):
    """A discrete distribution over observed values, optionally weighted."""

    kind: Literal["empirical"] = "empirical"
    values: tuple[NonNegative, ...] = Field(min_length=1)
    weights: tuple[NonNegative, ...] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"'weights' has {len(self.weights)} entries but 'values' has {len(self.values)}"
                )
            if sum(self.weights) <= 0:
                raise ValueError("'weights' must not all be zero")
        return self

    @property
    def probabilities(self) -> np.ndarray:
        import numpy as np

        if self.weights is None:
            return np.full(len(self.values), 1 / len(self.values))
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    @property
    def mean(self) -> float:
        import numpy as np

        return float(np.dot(self.values, self.probabilities))

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        import numpy as np

        return rng.choice(np.asarray(self.values, dtype=float), size=n, p=self.probabilities)

    def ppf(self, u: float) -> float:
        import numpy as np

        cumulative = np.cumsum(self.probabilities)
        k = int(np.searchsorted(cumulative, u, side="right"))
        return float(self.values[min(k, len(self.values) - 1)])


class Poisson(_GivenByMean):
    """Poisson counts with the given mean."""

    kind: Literal["poisson"] = "poisson"
    mean_: NonNegative = Field(alias="mean")

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.poisson(self.mean_, n).astype(float)

    def ppf(self, u: float) -> float:
        return _poisson_ppf(u, self.mean_)


def _poisson_ppf(u: float, mean: float) -> float:
    """The smallest k with P(X <= k) > u, by summing the probabilities."""
    k, p = 0, math.exp(-mean)
    total = p
    while total <= u and k < 10_000:
        k += 1
        p *= mean / k
        total += p
    return float(k)


def _number_is_constant(value: Any) -> Any:
    if isinstance(value, bool):
        return value  # let validation reject it with a clear type error
    if isinstance(value, int | float):
        return {"kind": "constant", "value": value}
    return value


_Tagged = Annotated[
    Constant | Exponential | Lognormal | Gamma | Uniform | Triangular | Empirical | Poisson,
    Field(discriminator="kind"),
]
Distribution = Annotated[_Tagged, BeforeValidator(_number_is_constant)]
"""Any distribution; in TOML an inline table with ``kind``, or a bare number for a constant."""
