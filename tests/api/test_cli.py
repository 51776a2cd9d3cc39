"""`chakong serve` as a command: help, bad flags and scenarios, a port in use, a database it
cannot use, start-up with no set-up at all, and fixtures fixed by the seed."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import pytest

from load.api.db import Database
from load.api.errors import OTHER_CODES, REFUSALS
from load.api.fixtures import create_world
from sim.scenario import load_scenario
from tests.api.support import running, settings_args
from tests.conftest import BASELINE, ROOT


def test_help_has_examples(chakong) -> None:
    res = chakong("serve", "--help")
    assert res.returncode == 0
    for flag in ("--scenario", "--db", "--workers", "--time-scale", "--seed", "--fixtures-out"):
        assert flag in res.stdout
    assert "examples:" in res.stdout and "chakong serve --scenario" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "argument --workers: must be at least 1, got 0"),
        (["--time-scale", "-1"], "argument --time-scale: must be a positive number, got -1"),
        (["--port", "70000"], "argument --port: a port is 0..65535, got 70000"),
        (["--seed", "x"], "argument --seed: expected a whole number, got 'x'"),
        (["--set", "api.debtors=0"], "api.debtors: Input should be greater than or equal to 1"),
        (["--set", "api.time_scale=fast"], "api.time_scale: Input should be a valid number"),
        (["--db", "mysql://x/y"], "--db: 'mysql' is not supported (sqlite or postgresql)"),
        (["--db", "sqlite://"], "--db: SQLite needs a file (sqlite:///FILE)"),
        (["--db", "postgresql://postgres@127.0.0.1:1/x"], "--db: cannot use postgresql"),
    ],
)
def test_bad_flags_and_scenarios_exit_2_with_one_clear_line(chakong, args, message) -> None:
    res = chakong("serve", "--scenario", str(BASELINE), "--port", "0", *args)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]  # argparse prints its usage lines first
    assert last.startswith("chakong serve: ") and message in last, res.stderr


def test_a_missing_scenario_file_is_named(chakong, tmp_path: Path) -> None:
    res = chakong("serve", "--scenario", str(tmp_path / "nope.toml"), "--port", "0")
    assert res.returncode == 2
    assert "nope.toml" in res.stderr and "Traceback" not in res.stderr


def test_a_port_in_use_is_a_clear_error(chakong) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = chakong("serve", "--scenario", str(BASELINE), "--port", str(port))
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"chakong serve: --port: port {port} on 127.0.0.1 is already in use"
    )


def test_starts_with_no_set_up_and_cleans_up(tmp_path: Path) -> None:
    """The defaults (an SQLite file in a temporary folder) on a fresh machine."""
    fixtures = tmp_path / "fixtures.json"
    with running(tmp_path, db_url=None, fixtures=fixtures) as server:
        data = json.loads(fixtures.read_text())
        assert set(data) == {"base_url", "admin_token", "courts", "debtors"}
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", data["base_url"])
        assert len(data["courts"]) == 9  # 3 + 4 + 2 in the baseline
        assert {c["region"] for c in data["courts"].values()} == {"liaoning", "hunan", "chongqing"}
        assert len(data["debtors"]) == 40
        contract = httpx.get(data["base_url"] + "/openapi.json").json()
        assert set(contract["paths"]) == {
            "/healthz",
            "/metrics",
            "/v1/cases",
            "/v1/cases/{case_id}",
            "/v1/queries",
            "/v1/queries/{query_id}",
            "/v1/controls",
            "/v1/controls/{control_id}",
            "/v1/admin/reconcile",
            "/v1/admin/audit/verify",
            "/v1/admin/audit/checkpoint",
            "/v1/admin/clock",
        }
        for code in [*REFUSALS, *OTHER_CODES]:  # every error code is documented
            assert f"`{code}`" in contract["info"]["description"], code
        line = server.log_path.read_text()
        temp_db = re.search(r"sqlite:///(\S+)", server.log_path.read_text())
    assert temp_db is not None, line
    assert not Path(temp_db.group(1)).parent.exists()  # the temporary folder is gone


def test_the_readme_documents_every_error_code() -> None:
    section = (ROOT / "README.md").read_text().split("## The reference API", 1)[1]
    for code in [*REFUSALS, *OTHER_CODES]:
        assert f"| `{code}` |" in section, code


def test_fixtures_are_fixed_by_the_seed(tmp_path: Path) -> None:
    scenario = load_scenario(BASELINE, settings_args()[1::2]).scenario

    def fixtures(name: str, seed: int) -> dict:
        db = Database(f"sqlite:///{tmp_path / name}", pool_size=1)
        try:
            return create_world(db, scenario, seed)
        finally:
            db.dispose()

    first, again, other = fixtures("a", 5), fixtures("b", 5), fixtures("c", 6)
    assert first == again
    assert first["admin_token"] != other["admin_token"]
    assert first["courts"].keys() == other["courts"].keys()
    assert first["courts"] != other["courts"]
