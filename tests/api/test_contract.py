"""The served OpenAPI holds: Schemathesis, every phase (examples, coverage, fuzzing and the
stateful phase that follows the contract's links from a new case to its queries and
controls, and from a checkpoint to its verification), every check, against real servers
(two workers: SQLite with controls done at once; PostgreSQL with controls handed to agencies
in fault mode): no 5xx, no status, header, content type or body the contract does not
document, negative data refused, positive data accepted, no traceback in the log. Court
endpoints run with a court's token, admin endpoints with the admin token (the contract's
bearer scheme, so that Schemathesis can also leave it out)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.support import PgDatabases, Server
from tests.conftest import ROOT

EXAMPLES = 25  # per operation and phase: bounded, with a fixed seed

pytestmark = pytest.mark.slow  # real servers, many requests: the default run, not the quick loop


FAULTS = [
    "api.controls=scenario",
    "api.faults.timeout_probability=0.3",
    "api.faults.lost_reply_probability=0.3",
    "api.faults.duplicate_reply_probability=0.3",
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, pg: PgDatabases, tmp_path_factory: Any
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("contract")
    if request.param == "sqlite":
        srv = Server(tmp, f"sqlite:///{tmp / 'api.sqlite3'}", workers=2)
    else:
        srv = Server(tmp, pg.new(), workers=2, extra=FAULTS, time_scale=0.5)
    try:
        yield srv
        assert srv.reconcile()["ok"]
        assert srv.audit()["ok"]
        log = srv.log_path.read_text()
        assert "Traceback" not in log, log
    finally:
        srv.stop()


def schemathesis_run(srv: Server, token: str, paths: list[str], tmp: Path) -> str:
    exe = Path(sys.executable).with_name("schemathesis")
    config = tmp / "schemathesis.toml"
    config.write_text('[auth.openapi.HTTPBearer]\nbearer = "${CHAKONG_TEST_TOKEN}"\n')
    args = [
        str(exe), "--config-file", str(config), "run", srv.url + "/openapi.json",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--checks", "all",
        "--max-examples", str(EXAMPLES),
        "--seed", "2023",
        "--workers", "1",  # hypothesis's lambda descriptions are not thread-safe on 3.11
        "--no-color",
        *paths,
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks"}
    env["CHAKONG_TEST_TOKEN"] = token
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    # its own cache goes to the current folder: the test's, not the repository
    res = subprocess.run(args, capture_output=True, text=True, cwd=tmp, env=env, timeout=900)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert "No issues found" in res.stdout, res.stdout[-3000:]
    return res.stdout


def test_court_endpoints_keep_the_contract(server: Server, tmp_path: Path) -> None:
    _, court = server.court("hunan")
    token = court["Authorization"].removeprefix("Bearer ")
    out = schemathesis_run(server, token, ["--exclude-path-regex", "^/v1/admin/"], tmp_path)
    assert "Stateful" in out and "Scenarios:" in out, out


def test_admin_endpoints_keep_the_contract(server: Server, tmp_path: Path) -> None:
    token = server.fixtures["admin_token"]
    out = schemathesis_run(server, token, ["--include-path-regex", "^/v1/admin/"], tmp_path)
    assert "Scenarios:" in out, out
