"""Scenario files: loading, immutability, overrides, extends, and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from sim.scenario import AssetType, ScenarioError, load_scenario
from sim.scenario.loader import apply_overrides, deep_merge
from tests.conftest import BASELINE, SCENARIOS


def test_baseline_loads_into_a_frozen_scenario():
    s = load_scenario(BASELINE).scenario
    assert set(s.regions) == {"liaoning", "hunan", "chongqing"}
    # region_defaults merged under every region
    assert s.regions["hunan"].officer_work.investigate_days.mean == pytest.approx(0.6)
    assert s.regions["liaoning"].policy.provident_fund_freeze_years == 2
    assert s.regions["hunan"].policy.provident_fund_annual_cap_yuan == 50000
    with pytest.raises(pydantic.ValidationError):
        s.horizon_days = 1  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        s.regions["hunan"].officers = 1  # type: ignore[misc]


@pytest.mark.parametrize("path", sorted(SCENARIOS.rglob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_scenario_is_valid(path: Path):
    load_scenario(path)


def test_set_overrides_any_field_and_keeps_the_file_untouched():
    before = BASELINE.read_text()
    loaded = load_scenario(
        BASELINE,
        [
            "regions.hunan.officers=20",
            'regions.hunan.claim_yuan={kind="constant", value=1000}',
            "arrival_monthly_factors.0=2.0",  # a new top-level key: an error, tested below
        ][:2],
    )
    s = loaded.scenario
    assert s.regions["hunan"].officers == 20
    assert s.regions["hunan"].claim_yuan.mean == 1000
    assert s.regions["liaoning"].officers == 12
    assert BASELINE.read_text() == before
    assert loaded.overrides == (
        "regions.hunan.officers=20",
        'regions.hunan.claim_yuan={kind="constant", value=1000}',
    )


def test_set_reaches_into_arrays_and_region_defaults():
    s = load_scenario(
        BASELINE,
        [
            "region_defaults.arrival_monthly_factors.0=2.5",
            "region_defaults.officer_work.rework_days=1.5",
        ],
    ).scenario
    for region in s.regions.values():
        assert region.arrival_monthly_factors[0] == 2.5
        assert region.officer_work.rework_days.mean == 1.5


def test_plain_string_values_need_no_quotes():
    assert apply_overrides({"name": "a"}, ["name=other"]) == {"name": "other"}
    assert apply_overrides({"a": {"b": 1}}, ["a.b=2.5"]) == {"a": {"b": 2.5}}


def test_deep_merge_replaces_distributions_whole():
    base = {"x": {"kind": "lognormal", "median": 5, "sigma": 1}, "t": {"a": 1, "b": 2}}
    top = {"x": {"kind": "constant", "value": 3}, "t": {"b": 3}}
    assert deep_merge(base, top) == {"x": {"kind": "constant", "value": 3}, "t": {"a": 1, "b": 3}}


def _problems(path, overrides=()):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return info.value.problems


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


BROKEN = {
    "negative rate": (
        ("arrival_rate_per_day = 10", "arrival_rate_per_day = -10"),
        "regions.liaoning.arrival_rate_per_day: Input should be greater than or equal to 0",
    ),
    "unknown key": (
        ("courts = 4", "courts = 4\ncourtz = 4"),
        "regions.hunan.courtz: unknown field; did you mean 'courts'?",
    ),
    "probability 1.3": (
        ("nothing_share = 0.4", "nothing_share = 1.3"),
        "debtors.nothing_share: Input should be less than or equal to 1 (got 1.3)",
    ),
    "wrong type": (
        ("officers = 14", 'officers = "many"'),
        "regions.hunan.officers: Input should be a valid integer",
    ),
    "missing region field": (
        ("arrival_rate_per_day = 8\n", "\n"),
        "regions.chongqing.arrival_rate_per_day: missing required field",
    ),
    "unknown agency": (
        (
            'agencies = ["bank", "land_registry", "provident_fund_centre"]',
            'agencies = ["bank", "mars"]',
        ),
        "channels.local.agencies: unknown agency 'mars'",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_files_name_the_file_the_field_and_the_problem(tmp_path, case):
    (old, new), expected = BROKEN[case]
    text = BASELINE.read_text()
    assert old in text
    path = _write(tmp_path, "broken.toml", text.replace(old, new, 1))
    problems = _problems(path)
    assert any(
        line == f"{path}: {expected}" or line.startswith(f"{path}: {expected}") for line in problems
    ), problems


def test_no_regions_is_an_error(tmp_path):
    text = BASELINE.read_text()
    cut = text.index("# ------------------------------------------------------------------ regions")
    end = text.index("# ------------------------------------------------------------------ debtors")
    path = _write(tmp_path, "noregions.toml", text[:cut] + text[end:])
    assert f"{path}: regions: missing required field" in _problems(path)


def test_several_problems_give_one_line_each(tmp_path):
    text = BASELINE.read_text()
    for (old, new), _ in BROKEN.values():
        text = text.replace(old, new, 1)
    path = _write(tmp_path, "many.toml", text)
    problems = _problems(path)
    assert len(problems) >= 5
    assert all(line.startswith(f"{path}: ") for line in problems)


def test_toml_syntax_error_names_the_line(tmp_path):
    path = _write(tmp_path, "syntax.toml", 'name = "x"\nhorizon_days = = 3\n')
    (line,) = _problems(path)
    assert line.startswith(f"{path}: TOML syntax error") and "line 2" in line


def test_a_bad_override_is_reported_with_its_flag():
    problems = _problems(BASELINE, ["regions.hunan.officers=-3"])
    assert problems == [
        f"{BASELINE}: regions.hunan.officers: Input should be greater than or equal to 1 "
        "(got -3) (from --set regions.hunan.officers=-3)"
    ]
    problems = _problems(BASELINE, ["regions.tibet.officers=3"])
    assert any("regions.tibet.courts: missing required field (from --set" in p for p in problems)
    assert _problems(BASELINE, ["officers"]) == [
        "--set officers: expected PATH=VALUE, e.g. regions.east.officers=40"
    ]
    assert "is a value, not a table" in _problems(BASELINE, ["horizon_days.x=1"])[0]


def test_cross_reference_problems(tmp_path):
    problems = _problems(
        BASELINE,
        ['agencies.bank.holds=["real_estate", "bank_deposit"]', "warmup_days=1000"],
    )
    assert f"{BASELINE}: warmup_days: must be less than horizon_days (1000 >= 487)" in problems
    assert any(
        "agencies.land_registry.holds: 'real_estate' is already held by" in p for p in problems
    )


def test_extends_merges_and_reports_cycles_and_missing_files(tmp_path):
    child = _write(
        tmp_path,
        "child.toml",
        f'extends = "{BASELINE}"\n[regions.hunan]\nofficers = 30\n',
    )
    s = load_scenario(child).scenario
    assert s.name == "child"  # a child names itself
    assert s.regions["hunan"].officers == 30
    assert s.regions["hunan"].courts == 4  # inherited
    loaded = load_scenario(child)
    assert loaded.files == (child, BASELINE)

    a = _write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    (line,) = _problems(a)
    assert line.startswith(f"{tmp_path / 'b.toml'}: extends: cycle:")

    lost = _write(tmp_path, "lost.toml", 'extends = "nowhere.toml"\n')
    assert _problems(lost) == [
        f"{lost}: extends: file 'nowhere.toml' not found (at {tmp_path / 'nowhere.toml'})"
    ]


def test_asset_types_are_a_closed_set():
    problems = _problems(BASELINE, ["debtors.assets.bitcoin.hold_probability=0.1"])
    assert any("debtors.assets.bitcoin: unknown field" in p for p in problems)
    assert AssetType("e_asset") is AssetType.e_asset


def test_resolved_scenario_round_trips_through_json():
    loaded = load_scenario(BASELINE)
    text = json.dumps(loaded.resolved())
    again = type(loaded.scenario).model_validate(json.loads(text))
    assert again == loaded.scenario


def test_debtors_paying_all_and_paying_part_are_shares_of_one_whole():
    overrides = [
        "credit_punishment.pays_probability=0.7",
        "credit_punishment.pays_part_probability=0.5",
    ]
    (problem,) = _problems(BASELINE, overrides)
    assert problem.startswith(
        f"{BASELINE}: credit_punishment: pays_probability (0.7) and pays_part_probability "
        "(0.5) are shares of the same debtors: together they must be at most 1, not 1.2"
    )
    fine = load_scenario(BASELINE, ["credit_punishment.pays_part_probability=0.5"]).scenario
    assert fine.credit_punishment.pays_part_probability == 0.5


def test_cli_validate_exit_codes_and_no_traceback(cli, tmp_path):
    ok = cli("validate", str(BASELINE))
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = _write(tmp_path, "bad.toml", BASELINE.read_text().replace("courts = 4", "courts = -1"))
    res = cli("validate", str(BASELINE), str(bad))
    assert res.returncode == 2
    assert f"{bad}: regions.hunan.courts: Input should be greater than or equal to 1" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_schema_is_json_schema_with_file_keys(cli):
    res = cli("schema")
    assert res.returncode == 0
    schema = json.loads(res.stdout)
    assert schema["additionalProperties"] is False
    assert {"regions", "agencies", "channels", "extends", "region_defaults"} <= set(
        schema["properties"]
    )
    region = schema["$defs"]["RegionPolicy"]["properties"]
    assert {"provident_fund_annual_cap_yuan", "provident_fund_freeze_years"} <= set(region)
