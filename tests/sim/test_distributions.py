"""Distributions: analytic means against sample means, and the block sampler."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from pydantic import TypeAdapter, ValidationError

from sim.model.streams import inverse, keyed_sample, sampler
from sim.scenario.distributions import Distribution

DIST = TypeAdapter(Distribution)

CASES = [
    {"kind": "constant", "value": 3.5},
    {"kind": "exponential", "mean": 2.0},
    {"kind": "lognormal", "mean": 50000, "sigma": 1.2},
    {"kind": "lognormal", "median": 8000, "sigma": 0.5},
    {"kind": "gamma", "mean": 120, "shape": 3},
    {"kind": "uniform", "low": 0.1, "high": 2},
    {"kind": "triangular", "low": 1, "mode": 2, "high": 6},
    {"kind": "empirical", "values": [1, 2, 3], "weights": [0.6, 0.3, 0.1]},
    {"kind": "poisson", "mean": 1.7},
]


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s["kind"])
def test_sample_mean_matches_analytic_mean(spec):
    d = DIST.validate_python(spec)
    x = d.sample_many(np.random.default_rng(11), 200_000)
    assert (x >= 0).all()
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert abs(x.mean() - d.mean) <= 4 * se + 1e-12, (x.mean(), d.mean, se)


def test_a_bare_number_is_a_constant():
    d = DIST.validate_python(7)
    assert d.kind == "constant" and d.mean == 7 and d.sample(np.random.default_rng(0)) == 7


def test_lognormal_median_and_mean_agree():
    by_median = DIST.validate_python({"kind": "lognormal", "median": 100, "sigma": 1})
    assert by_median.mean == pytest.approx(100 * math.exp(0.5))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "exponential", "mean": -1}, "greater than 0"),
        ({"kind": "lognormal", "sigma": 1}, "exactly one of 'mean' and 'median'"),
        ({"kind": "uniform", "low": 3, "high": 1}, "'high' must be >= 'low'"),
        ({"kind": "empirical", "values": [1, 2], "weights": [1]}, "'weights' has 1 entries"),
        ({"kind": "normal", "mean": 1}, "does not match any of the expected tags"),
        ({"kind": "constant", "value": -2}, "greater than or equal to 0"),
    ],
)
def test_bad_parameters_are_refused(spec, message):
    with pytest.raises(ValidationError, match=message):
        DIST.validate_python(spec)


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s["kind"])
def test_block_sampler_is_deterministic_and_matches_the_mean(spec):
    d = DIST.validate_python(spec)
    a = sampler(d, np.random.default_rng(5), block=64)
    b = sampler(d, np.random.default_rng(5), block=64)
    xs = [a() for _ in range(50_000)]
    assert xs[:300] == [b() for _ in range(300)]
    se = np.std(xs, ddof=1) / math.sqrt(len(xs))
    assert abs(np.mean(xs) - d.mean) <= 4 * se + 1e-12


@settings(max_examples=60, deadline=None)
@given(mean=hs.floats(0.001, 1e6), sigma=hs.floats(0, 2.5), seed=hs.integers(0, 2**32 - 1))
def test_lognormal_samples_are_non_negative_and_finite(mean, sigma, seed):
    d = DIST.validate_python({"kind": "lognormal", "mean": mean, "sigma": sigma})
    x = d.sample_many(np.random.default_rng(seed), 100)
    assert np.isfinite(x).all() and (x >= 0).all()
    assert d.mean == pytest.approx(mean, rel=1e-9)


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s["kind"])
def test_ppf_inverts_the_distribution(spec):
    d = DIST.validate_python(spec)
    grid = (np.arange(100_000) + 0.5) / 100_000
    values = np.array([d.ppf(u) for u in grid])
    assert (np.diff(values) >= 0).all()  # non-decreasing
    assert values.mean() == pytest.approx(d.mean, rel=0.01)  # the mean, by quadrature
    # and agrees with sampling: the median of many draws is ppf(0.5)
    draws = d.sample_many(np.random.default_rng(3), 100_000)
    assert np.median(draws) == pytest.approx(d.ppf(0.5), rel=0.05, abs=0.02)


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s["kind"])
@settings(max_examples=200, deadline=None)
@given(u=hs.floats(0, 1, exclude_max=True, width=64), seed=hs.integers(0, 2**62))
def test_the_compiled_inverse_is_the_distributions_ppf_value_for_value(spec, u, seed):
    d = DIST.validate_python(spec)
    inv = inverse(d)
    value = inv(u)
    assert type(value) is float
    assert value == d.ppf(u)
    assert inv.keyed(seed, 7, 11) == keyed_sample(d, seed, 7, 11)


@settings(max_examples=300, deadline=None)
@given(hs.floats(0.05, 50), hs.floats(0.01, 1000), hs.floats(0, 1, exclude_max=True, width=64))
def test_gamma_draw_by_inversion_is_the_ufunc_value_for_value(shape, mean, u):
    """The gamma draw inverts with scipy's scalar gammaincinv; the ufunc gives the same
    number (the national fit rests on these values)."""
    from scipy.special import gammaincinv

    d = TypeAdapter(Distribution).validate_python({"kind": "gamma", "mean": mean, "shape": shape})
    value = d.ppf(u)
    assert type(value) is float
    assert value == float(gammaincinv(shape, u)) * mean / shape


def test_keyed_uniforms_are_uniform_fixed_and_keyed():
    from scipy import stats as st

    from sim.model.streams import keyed_uniform

    xs = np.array([keyed_uniform(12345, 7, k) for k in range(20_000)])
    assert st.kstest(xs, "uniform").pvalue > 0.01
    assert keyed_uniform(12345, 7, 3) == keyed_uniform(12345, 7, 3)
    assert keyed_uniform(12345, 7, 3) != keyed_uniform(12345, 3, 7)  # order of keys matters
    # neighbouring seeds give unrelated streams
    a = np.array([keyed_uniform(s, 1) for s in range(5000)])
    b = np.array([keyed_uniform(s + 1, 1) for s in range(5000)])
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.05


def _compiled_keyed_uniform():
    try:
        from sim.model._keyed import keyed_uniform
    except ImportError:
        pytest.skip("the compiled keyed draw was not built (no C compiler at install)")
    return keyed_uniform


@pytest.mark.parametrize("kernel", ["python", "compiled"])
def test_keyed_uniforms_are_the_splitmix_chain_written_out(kernel):
    """The keyed draw, in line in Python and compiled, is the chain of splitmix64 finalisers
    it documents, for any seed and keys (negative and wide ones too): the national fit
    depends on these values, and a run gives the same bits with or without a compiler."""
    from hypothesis import given, settings
    from hypothesis import strategies as hs

    from sim.model.streams import _GOLDEN, _MASK, _mix, keyed_uniform_python

    keyed_uniform = keyed_uniform_python if kernel == "python" else _compiled_keyed_uniform()

    def chain(seed: int, *keys: int) -> float:
        z = _mix(seed & _MASK)
        for k in keys:
            z = _mix((z + k * _GOLDEN + 1) & _MASK)
        return (z >> 11) / 2**53

    wide = hs.integers(-(2**70), 2**70)

    @settings(max_examples=500, deadline=None)
    @given(wide, hs.lists(wide, max_size=6))
    def same(seed: int, keys: list[int]) -> None:
        assert keyed_uniform(seed, *keys) == chain(seed, *keys)

    same()
    with pytest.raises(TypeError):  # what is not an integer is refused, as in Python
        keyed_uniform(1, 2.5)
    # splitmix64's published first output for seed 0 (its state advanced once by golden)
    assert _mix(_GOLDEN) == 0xE220A8397B1DCDAF


def test_fen_are_rounded_as_python_rounds_compiled_or_not():
    """A sum in fen is Python's round(yuan * 100), half to even, in C as in Python: the
    same int for any float (halves, huge sums, negatives), the same errors otherwise."""
    from hypothesis import given, settings
    from hypothesis import strategies as hs

    from sim.model.settlement import to_fen_python

    try:
        from sim.model._keyed import to_fen
    except ImportError:
        pytest.skip("the compiled rounding was not built (no C compiler at install)")

    @settings(max_examples=2000, deadline=None)
    @given(
        hs.one_of(
            hs.floats(-1e306, 1e306),  # finite once times 100
            hs.integers(-(10**9), 10**9).map(lambda k: k / 200),  # exact and near halves
            hs.integers(-(10**6), 10**6).map(lambda k: (k + 0.5) / 100),
        )
    )
    def same(yuan: float) -> None:
        assert to_fen(yuan) == to_fen_python(yuan) == round(yuan * 100)
        assert type(to_fen(yuan)) is int

    same()
    for half in (0.005, 0.015, 0.025, 2.5 / 100, -0.005, 1e300):
        assert to_fen(half) == round(half * 100)
    for bad, error in (
        (math.inf, OverflowError),
        (-math.inf, OverflowError),
        (math.nan, ValueError),
    ):
        with pytest.raises(error):
            to_fen(bad)
        with pytest.raises(error):
            to_fen_python(bad)
    with pytest.raises(TypeError):
        to_fen("1")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["sampler", "uniforms", "integers"])
def test_blocks_hand_out_each_block_in_order_drawing_it_when_needed(kind):
    """The block draws are the values of whole blocks in order, the first drawn at the
    first call and each next one only when the last is used up (so that streams advance
    the same whatever else a run draws first)."""
    from sim.model.streams import integers, uniforms

    d = DIST.validate_python({"kind": "lognormal", "mean": 3, "sigma": 1})
    make = {
        "sampler": (lambda rng: sampler(d, rng, block=8), lambda rng: d.sample_many(rng, 8)),
        "uniforms": (lambda rng: uniforms(rng, block=8), lambda rng: rng.random(8)),
        "integers": (lambda rng: integers(rng, 7, block=8), lambda rng: rng.integers(0, 7, 8)),
    }[kind]
    rng = np.random.default_rng(9)
    draw = make[0](rng)
    assert rng.bit_generator.state == np.random.default_rng(9).bit_generator.state
    got = [draw() for _ in range(20)]
    reference = np.random.default_rng(9)
    expected = [v for _ in range(3) for v in make[1](reference).tolist()][:20]
    assert got == expected
    assert rng.bit_generator.state == reference.bit_generator.state  # three blocks, not four


def test_yuan_are_rounded_to_fen_as_python_rounds_compiled_or_not():
    """A sum in yuan rounded to whole fen is Python's round(yuan, 2), in C as in Python: the
    same float, bit for bit and sign for sign, for any float: halves (none is exact in
    binary, so the float's exact value decides), their neighbours, huge and tiny sums,
    infinities and NaN; an int stays an int."""
    from hypothesis import given, settings
    from hypothesis import strategies as hs

    from sim.model.settlement import round_yuan_python

    try:
        from sim.model._keyed import round_yuan
    except ImportError:
        pytest.skip("the compiled rounding was not built (no C compiler at install)")

    def near_half(k: int, step: int) -> float:
        x = (k + 0.5) / 100
        for _ in range(abs(step)):
            x = math.nextafter(x, math.copysign(math.inf, step))
        return x

    @settings(max_examples=3000, deadline=None)
    @given(
        hs.one_of(
            hs.floats(allow_nan=True, allow_infinity=True),
            hs.floats(-1e7, 1e7),
            hs.builds(near_half, hs.integers(-(10**12), 10**12), hs.integers(-2, 2)),
            hs.integers(-(2**60), 2**60).map(lambda k: k / 100),
        )
    )
    def same(yuan: float) -> None:
        expected = round(yuan, 2)
        assert repr(round_yuan(yuan)) == repr(round_yuan_python(yuan)) == repr(expected)

    same()
    for yuan in (2.675, 1.005, 0.125, -0.125, -0.001, 5e-324, 2.0**52 / 100, 2.0**53):
        assert repr(round_yuan(yuan)) == repr(round(yuan, 2))
    assert round_yuan(5) == 5 and type(round_yuan(5)) is int
    with pytest.raises(TypeError):
        round_yuan("1")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["doubles", "int64", "list"])
def test_compiled_blocks_give_what_the_python_blocks_give(kind):
    """The C Blocks (sim/model/_blocks.c) hand out the values, in the order and from the
    draws, that the Python class does, for each kind of block a model draws."""
    from array import array

    from sim.model.streams import BlocksPython

    try:
        from sim.model._blocks import Blocks
    except ImportError:
        pytest.skip("the compiled blocks were not built (no C compiler at install)")

    def drawer():
        rng = np.random.default_rng(11)
        calls: list[int] = []

        def draw(n: int):
            calls.append(n)
            if kind == "doubles":
                return array("d", rng.lognormal(0, 3, n).tobytes())
            if kind == "int64":
                return array("q", rng.integers(-(2**62), 2**62, n).tobytes())
            return rng.integers(0, 5, n).tolist()

        return draw, calls

    (draw_c, calls_c), (draw_py, calls_py) = drawer(), drawer()
    compiled, python = Blocks(draw_c, 7), BlocksPython(draw_py, 7)
    got = [compiled() if k % 2 else compiled.next() for k in range(30)]
    want = [python() for _ in range(30)]
    assert repr(got) == repr(want) and [type(v) for v in got] == [type(v) for v in want]
    assert calls_c == calls_py == [7] * 5  # a block drawn only when the last is used up
    with pytest.raises(TypeError):
        compiled(1)  # type: ignore[call-arg]


def test_compiled_blocks_refuse_what_is_not_a_block():
    try:
        from sim.model._blocks import Blocks
    except ImportError:
        pytest.skip("the compiled blocks were not built (no C compiler at install)")
    from array import array

    with pytest.raises(IndexError):
        Blocks(lambda n: [], 4)()
    with pytest.raises(TypeError, match="format 'f'"):
        Blocks(lambda n: array("f", [1.0] * n), 4)()
    with pytest.raises(TypeError, match="not a list or an array"):
        Blocks(lambda n: (1.0,) * n, 4)()
    with pytest.raises(ZeroDivisionError):
        Blocks(lambda n: 1 / 0, 4)()
