"""``chakong sweep``: --vary parsing and checking, the designs, the sensitivity measures
against known answers, and the command end to end."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from sim.errors import UserError
from sim.results.metrics import HEADLINE_METRICS
from sim.study.design import Vary, make_design, parse_vary, resolve_varies
from sim.study.sensitivity import sobol, standardised_regression
from tests.conftest import BASELINE, assert_holds
from tests.sim import studies


@pytest.fixture(scope="session")
def swept(tmp_path_factory):
    return studies.sweep_folder(tmp_path_factory)


# ---------------------------------------------------------------- --vary


def test_parse_vary():
    assert parse_vary("regions.hunan.officers=10:20") == ("regions.hunan.officers", 10, 20)
    assert parse_vary(" sale.real_estate.preparation_days.mean = 20 : 0.8e2") == (
        "sale.real_estate.preparation_days.mean",
        20,
        80,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("regions.hunan.officers", "expected PATH=LOW:HIGH"),
        ("regions.hunan.officers=10", "expected LOW:HIGH after '='"),
        ("regions.hunan.officers=1:2:3", "expected LOW:HIGH after '='"),
        ("=1:2", "the path '' is empty"),
        ("regions..officers=1:2", "has an empty part"),
        ("x=a:2", "LOW 'a' is not a number"),
        ("x=1:", "HIGH '' is not a number"),
        ("x=1:inf", "HIGH must be a finite number"),
        ("x=20:10", "LOW (20) must be less than HIGH (10)"),
        ("x=5:5", "LOW (5) must be less than HIGH (5)"),
    ],
)
def test_bad_vary_syntax_names_the_flag(text, message):
    with pytest.raises(UserError, match=r"^--vary ") as exc:
        parse_vary(text)
    assert message in str(exc.value) and text in str(exc.value)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "give at least one --vary"),
        (["regions.hunan.oficers=1:2"], "has no field 'regions.hunan.oficers'"),
        (
            ["sale.real_estate.preparation_days=1:2"],
            "'sale.real_estate.preparation_days' is a table; vary a number",
        ),
        (["name=1:2"], "'name' is not a number"),
        (["regions.hunan.officers=10.5:20"], "is a whole number; give whole LOW and HIGH"),
        (["regions.hunan.officers=1:2", "regions.hunan.officers=3:4"], "is given twice"),
        (["regions.hunan.officers=0:5"], "with every --vary at its LOW"),
    ],
)
def test_vary_is_checked_against_the_scenario(texts, message):
    with pytest.raises(UserError) as exc:
        resolve_varies(BASELINE, [], texts)
    assert message in str(exc.value)


def test_an_invalid_end_is_reported_as_the_loader_says_naming_vary():
    with pytest.raises(UserError) as exc:
        resolve_varies(BASELINE, [], ["regions.hunan.officers=0:5"])
    text = str(exc.value)
    assert "regions.hunan.officers: Input should be greater than or equal to 1" in text
    assert "(from --vary regions.hunan.officers=0)" in text


def test_fields_are_typed_by_the_schema():
    officers, rate, fund = resolve_varies(
        BASELINE,
        [],
        [
            "regions.hunan.officers=10:20",
            "regions.hunan.arrival_rate_per_day=8:14",  # written 12 in the file: a float
            "region_defaults.officer_work.investigate_days.mean=0.3:0.9",
        ],
    )
    assert officers.integer and not rate.integer and not fund.integer


# ---------------------------------------------------------------- designs

INT = Vary("regions.hunan.officers", 10, 14, integer=True)
REAL = Vary("sale.real_estate.preparation_days.mean", 20, 80)


def test_latin_hypercube_is_stratified_and_whole_numbers_stay_whole():
    d = make_design("lhs", [REAL, INT], 10, seed=3)
    assert len(d.points) == 10 and d.blocks == [""] * 10
    reals = sorted(p[REAL.path] for p in d.points)
    bins = [int((x - 20) / 6) for x in reals]  # one point in each tenth of the range
    assert bins == list(range(10))
    ints = [p[INT.path] for p in d.points]
    assert all(isinstance(v, int) and 10 <= v <= 14 for v in ints)
    assert set(ints) == {10, 11, 12, 13, 14}
    assert make_design("lhs", [REAL, INT], 10, seed=3).points == d.points
    assert make_design("lhs", [REAL, INT], 10, seed=4).points != d.points


def test_grid_takes_every_combination_with_the_ends():
    d = make_design("grid", [REAL, INT], 9, seed=1)
    assert sorted({p[REAL.path] for p in d.points}) == [20, 50, 80]
    assert sorted({p[INT.path] for p in d.points}) == [10, 12, 14]
    assert len({tuple(p.values()) for p in d.points}) == 9
    assert len(make_design("grid", [REAL], None, seed=1).points) == 3
    with pytest.raises(UserError, match=r"--samples 10: a grid over 2 inputs needs k\^2"):
        make_design("grid", [REAL, INT], 10, seed=1)
    with pytest.raises(UserError, match=r"6 grid levels, but regions\.hunan\.officers has only 5"):
        make_design("grid", [REAL, INT], 36, seed=1)


def test_sobol_design_is_saltellis_a_b_and_ab_matrices():
    d = make_design("sobol", [REAL, INT], 8, seed=2)
    assert len(d.points) == 8 * (2 + 2) and d.base == 8
    assert d.blocks == ["A"] * 8 + ["B"] * 8 + ["AB1"] * 8 + ["AB2"] * 8
    a, b, ab1, ab2 = (d.points[k * 8 : (k + 1) * 8] for k in range(4))
    for i in range(8):  # AB_j is A with input j taken from B
        assert ab1[i] == {REAL.path: b[i][REAL.path], INT.path: a[i][INT.path]}
        assert ab2[i] == {REAL.path: a[i][REAL.path], INT.path: b[i][INT.path]}
    with pytest.raises(UserError, match="--samples 6: the sobol design needs a power of 2"):
        make_design("sobol", [REAL], 6, seed=2)


# ---------------------------------------------------------------- sensitivity


def test_src_of_an_exact_linear_function():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, size=(20, 3))
    y = 3 * x[:, 0] - x[:, 1]  # the third input does nothing
    s = standardised_regression(x, y, ["a", "b", "c"], "m")
    expected = {"a": 3 * x[:, 0].std() / y.std(), "b": -x[:, 1].std() / y.std()}
    effects = {e.input: e for e in s.effects}
    assert s.r2 == pytest.approx(1.0)
    for name, value in expected.items():
        assert effects[name].value == pytest.approx(value, rel=1e-9)
    assert effects["c"].value == pytest.approx(0, abs=1e-9)
    assert s.drivers[:2] == ["a", "b"] and s.effects[0].input == "a"


def test_src_intervals_separate_a_driver_from_noise():
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, size=(30, 2))
    y = 5 * x[:, 0] + rng.normal(0, 0.3, 30)
    s = standardised_regression(x, y, ["driver", "idle"], "m")
    assert s.drivers == ["driver"]
    idle = next(e for e in s.effects if e.input == "idle")
    assert idle.ci95[0] < 0 < idle.ci95[1]
    assert "driven by driver" in s.verdict()


def test_src_says_when_it_cannot_tell():
    s = standardised_regression(np.ones((5, 1)) * [[1.0]], [1.0] * 5, ["a"], "m")
    assert "does not vary" in s.verdict()
    s = standardised_regression(np.arange(4.0)[:, None], [1.0, np.nan, np.nan, np.nan], ["a"], "m")
    assert "too few points" in s.verdict()


def test_sobol_indices_of_an_additive_function():
    """y = x1 + 2 x2 on [0, 1]^2: Var = 1/12 + 4/12, so S1 = 0.2 and S2 = 0.8."""
    one, two = Vary("x1", 0, 1), Vary("x2", 0, 1)
    d = make_design("sobol", [one, two], 512, seed=5)
    y = np.array([p["x1"] + 2 * p["x2"] for p in d.points])
    n = d.base
    s = sobol(y[:n], y[n : 2 * n], y[2 * n :].reshape(2, n), ["x1", "x2"], "y")
    got = {e.input: e for e in s.effects}
    assert got["x1"].value == pytest.approx(0.2, abs=0.05)  # total order
    assert got["x2"].value == pytest.approx(0.8, abs=0.05)
    assert got["x1"].first_order == pytest.approx(0.2, abs=0.05)
    assert s.drivers == ["x2", "x1"]


# ---------------------------------------------------------------- the command


@pytest.mark.slow
def test_sweep_prints_which_inputs_drive_the_metrics(swept):
    _, res = swept
    text = res.stdout
    assert "sweep of baseline: lhs design, 8 points x 2 replications, seed 3" in text
    assert "regions.hunan.officers" in text and "14 to 22 (whole numbers)" in text
    assert "standardised regression coefficients" in text
    line = next(x for x in text.splitlines() if x.strip().startswith("throughput_cases_per_year:"))
    assert "driven by regions.hunan.arrival_rate_per_day" in line
    assert any(x.strip().startswith("time_to_recovery_days_mean:") for x in text.splitlines())


@pytest.mark.slow
def test_sweep_folder_holds_the_table_and_the_report(swept):
    out, _ = swept
    assert_holds(
        out,
        "sweep.csv",
        "replications.csv",
        "sensitivity.csv",
        "sweep.json",
        "manifest.json",
        "report.html",
        "scenario.toml",
    )
    with (out / "sweep.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8
    for m in HEADLINE_METRICS:
        for r in rows:
            if r[f"{m}_mean"]:
                assert float(r[f"{m}_ci95_low"]) <= float(r[f"{m}_mean"])
    assert {int(r["regions.hunan.officers"]) for r in rows} <= set(range(14, 23))
    sw = studies.read_json(out / "sweep.json")
    assert sw["design"] == "lhs" and sw["points"] == 8 and sw["replications"] == 2
    src = sw["sensitivity"]["throughput_cases_per_year"]["src"]
    assert src["drivers"][0] == "regions.hunan.arrival_rate_per_day"
    manifest = studies.read_json(out / "manifest.json")
    assert manifest["kind"] == "sweep" and manifest["design"] == "lhs"
    assert manifest["vary"] == [
        "regions.hunan.arrival_rate_per_day=6:14",
        "regions.hunan.officers=14:22",
    ]


@pytest.mark.slow
def test_a_sobol_sweep_gives_sobol_indices_and_its_report(tmp_path):
    import sim

    base = sim.load(BASELINE, horizon_days=40, warmup_days=5)
    sw = sim.sweep(
        base,
        {
            "regions.hunan.arrival_rate_per_day": (6, 14),
            "sale.real_estate.preparation_days.mean": (20, 80),
        },
        design="sobol",
        samples=2,
        replications=2,
        seed=8,
        out=tmp_path / "sobol",
    )
    assert len(sw.design.points) == 2 * (2 + 2)
    s = sw.sensitivity["throughput_cases_per_year"]["sobol"]
    assert s.method == "sobol" and {e.input for e in s.effects} == {
        "regions.hunan.arrival_rate_per_day",
        "sale.real_estate.preparation_days.mean",
    }
    text = (tmp_path / "sobol" / "report.html").read_text(encoding="utf-8")
    assert "Sobol&#x27; indices over 8 points" in text and "sensitivity chart" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "sweep: give at least one --vary PATH=LOW:HIGH"),
        (["--vary", "regions.hunan.officers=20:10"], "--vary regions.hunan.officers=20:10: LOW"),
        (["--vary", "regions.hunan.officers"], "expected PATH=LOW:HIGH"),
        (["--vary", "x=1:2", "--metric", "speed"], "--metric speed: unknown metric"),
        (
            [
                "--vary",
                "sale.real_estate.preparation_days.mean=20:80",
                "--design",
                "sobol",
                "--samples",
                "6",
            ],
            "power of 2",
        ),
        (
            ["--vary", "sale.real_estate.preparation_days.mean=20:80", "--design", "halton"],
            "invalid choice: 'halton'",
        ),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(cli, tmp_path, args, message):
    res = cli("sweep", str(BASELINE), *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists()
