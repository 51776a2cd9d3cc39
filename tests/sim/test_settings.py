"""One resolver of a study's settings: ``chakong run`` and ``sim.simulate`` take the same
defaults and refuse the same things, in the same words (sim/study/settings.py)."""

from __future__ import annotations

import pytest

import sim
from sim.api import _settings
from sim.cli import build_parser, options
from sim.errors import UserError
from sim.study.precision import DEFAULT_CAP, INITIAL_REPLICATIONS
from tests.conftest import BASELINE

SHORT = {"horizon_days": 60, "warmup_days": 10}


@pytest.fixture(scope="module")
def base():
    return sim.load(BASELINE, **SHORT)


REFUSED = [
    ({"replications": 1}, ["--replications", "1"], "--replications: at least 2 are needed"),
    ({"replications": 0}, ["--replications", "0"], "--replications"),
    ({"seed": -1}, ["--seed", "-1"], "must not be negative, got -1"),
    ({"workers": 0}, ["--workers", "0"], "must be at least 1, got 0"),
    ({"precision": 1.5}, ["--precision", "1.5"], "must be between 0 and 1 (0.02 is 2%), got 1.5"),
    ({"max_replications": 50}, ["--max-replications", "50"], "--max-replications: only with"),
    (
        {"precision_metrics": ["backlog_mean"]},
        ["--precision-metric", "backlog_mean"],
        "--precision-metric: only with --precision",
    ),
    (
        {"precision": 0.1, "precision_metrics": ["speed"]},
        ["--precision", "0.1", "--precision-metric", "speed"],
        "--precision-metric speed: unknown metric",
    ),
    (
        {"precision": 0.1, "replications": 5, "max_replications": 4},
        ["--precision", "0.1", "--replications", "5", "--max-replications", "4"],
        "--max-replications 4: must be at least the initial replications (5)",
    ),
]


@pytest.mark.parametrize(("kwargs", "flags", "message"), REFUSED, ids=lambda v: str(v)[:40])
def test_the_command_and_the_python_api_refuse_the_same_things(
    cli, base, tmp_path, kwargs, flags, message
):
    res = cli("run", str(BASELINE), *flags, "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "x").exists()
    with pytest.raises(UserError) as refused:
        sim.simulate(base, **kwargs)
    assert message.split(": ")[-1] in str(refused.value)
    assert str(refused.value).startswith("--")  # names the option, as the command does


def test_a_scale_outside_0_1_is_refused_alike(cli):
    res = cli("run", str(BASELINE), "--scale", "2")
    assert res.returncode == 2 and "must be in (0, 1], got 2" in res.stderr
    with pytest.raises(UserError, match=r"--scale: must be in \(0, 1\], got 2"):
        sim.load(BASELINE, scale=2)


@pytest.mark.parametrize(
    ("kwargs", "flags"),
    [
        ({}, []),
        ({"replications": 4, "seed": 9}, ["--replications", "4", "--seed", "9"]),
        ({"precision": 0.05}, ["--precision", "0.05"]),
        (
            {"precision": 0.05, "replications": 120, "max_replications": 130},
            ["--precision", "0.05", "--replications", "120", "--max-replications", "130"],
        ),
        (
            {"precision": 0.05, "precision_metrics": ["backlog_mean"]},
            ["--precision", "0.05", "--precision-metric", "backlog_mean"],
        ),
    ],
)
def test_the_command_and_the_python_api_take_the_same_defaults(base, kwargs, flags):
    args = build_parser().parse_args(["run", str(BASELINE), "--workers", "1", *flags])
    from_cli = options.settings(args, base.scenario.run)
    from_api = _settings(base, {**kwargs, "progress": True})  # type: ignore[typeddict-item]
    assert from_cli == from_api


def test_the_defaults_are_the_scenarios_or_the_algorithms(base):
    s = _settings(base, {})
    assert (s.replications, s.seed) == (base.scenario.run.replications, base.scenario.run.seed)
    assert (s.workers, s.progress) == (1, False)  # the Python API works in this process
    p = _settings(base, {"precision": 0.02})
    assert p.replications == INITIAL_REPLICATIONS
    assert p.precision is not None and p.precision.max_replications == DEFAULT_CAP
