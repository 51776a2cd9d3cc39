"""Durable restarts: ``chakong serve`` on a database that holds a world resumes it.

The crash test, on SQLite and on PostgreSQL: many keyed controls in flight on two workers,
``kill -9`` of the whole process group, a restart with the same command, every request
retried with its key: every acknowledged control is there exactly once (its reply the same,
byte for byte), unacknowledged ones happened at most once, money reconciles exactly and
the audit log verifies. And the command's refusals: another seed, another schema version,
a missing audit key, each a clear line and exit 2; ``--reset`` starts afresh.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from load.api.db import Database
from tests.api.support import PgDatabases, Server, control, find, open_case, settings_args
from tests.conftest import BASELINE

REQUESTS = 120  # keyed deductions sent at once, 16 at a time
CASES = 6


def same_command(tmp: Path, url: str) -> Callable[[], Server]:
    """Start the same server (database, state folder, fixtures file, seed) each time."""
    fixtures = tmp / "fixtures.json"
    return lambda: Server(tmp, url, workers=2, fixtures=fixtures, state_dir=tmp / "state")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, pg: PgDatabases, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'api.sqlite3'}" if request.param == "sqlite" else pg.new()


def frozen_banks(srv: Server) -> list[dict[str, Any]]:
    _, h = srv.court("hunan")
    out = []
    with srv.client() as c:
        for _ in range(CASES):
            case = open_case(c, h, srv.debtor("hunan"), 10**12)
            bank = find(c, h, case, "central", "bank_deposit")
            r = control(c, h, case_id=case, asset_id=bank["asset_id"], action="freeze")
            assert r.status_code == 201, r.text
            out.append({"case_id": case, "asset_id": bank["asset_id"]})
    return out


@pytest.mark.slow
def test_a_crash_in_flight_loses_and_doubles_nothing(tmp_path: Path, url: str) -> None:
    start = same_command(tmp_path, url)
    srv = start()
    courts = srv.fixtures["courts"]
    try:
        banks = frozen_banks(srv)
        _, h = srv.court("hunan")
        requests = [
            (f"crash-{i}", {**banks[i % CASES], "action": "deduct", "amount_fen": 1 + i % 7})
            for i in range(REQUESTS)
        ]
        acknowledged: dict[str, tuple[int, bytes]] = {}

        def send(item: tuple[str, dict[str, Any]]) -> None:
            key, body = item
            try:
                with httpx.Client(base_url=srv.url, timeout=10) as c:
                    r = control(c, h, key=key, **body)
            except httpx.TransportError:
                return  # not acknowledged: the server died first
            if r.status_code in (201, 409):
                acknowledged[key] = (r.status_code, r.content)

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(send, item) for item in requests]
            deadline = time.monotonic() + 30
            while len(acknowledged) < REQUESTS // 3 and time.monotonic() < deadline:
                time.sleep(0.005)
            os.killpg(srv.proc.pid, signal.SIGKILL)  # the whole process group, mid-flight
            for f in futures:
                f.result()
        srv.proc.wait(10)
    finally:
        srv.stop()
    assert REQUESTS // 3 <= len(acknowledged) < REQUESTS, len(acknowledged)

    srv = start()  # the same command: the world resumed, not reset
    try:
        assert srv.fixtures["courts"] == courts  # the same tokens
        with srv.client() as c:
            replies = {key: control(c, h, key=key, **body) for key, body in requests}
            for key, (status, content) in acknowledged.items():
                assert (replies[key].status_code, replies[key].content) == (status, content), key
            views = [c.get(f"/v1/cases/{b['case_id']}", headers=h).json() for b in banks]
        controls = [x for v in views for x in v["controls"] if x["action"] == "deduct"]
        ids = [x["control_id"] for x in controls]
        assert len(ids) == len(set(ids)) == REQUESTS  # every key acted exactly once by now
        for key, r in replies.items():
            assert ids.count(r.json()["control_id"]) == 1, key
        for v in views:  # the money: what each case recovered is what its deductions took
            taken = sum(x["amount_fen"] for x in v["controls"] if x["outcome"] == "deducted")
            assert v["recovered_fen"] == taken
        reconciled = srv.reconcile()
        assert reconciled["ok"], reconciled
        audited = srv.audit_settled()
        assert audited["ok"], audited
        assert audited["unsealed"] == 0
    finally:
        srv.stop()


@pytest.mark.slow
def test_a_clean_restart_resumes_and_reset_starts_afresh(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    start = same_command(tmp_path, url)
    srv = start()
    try:
        banks = frozen_banks(srv)
        _, h = srv.court("hunan")
        with srv.client() as c:
            before = c.get(f"/v1/cases/{banks[0]['case_id']}", headers=h).json()
        r = httpx.post(srv.url + "/v1/admin/clock", headers=srv.admin, json={"days": 30})
        assert r.status_code == 200, r.text
        moved_to = r.json()["sim_time"]
    finally:
        srv.stop()
    srv = start()
    try:
        assert "resumed" in srv.log_path.read_text()
        with srv.client() as c:
            assert c.get(f"/v1/cases/{banks[0]['case_id']}", headers=h).json() == before
            assert c.get("/healthz").json()["sim_time"] >= moved_to  # the clock kept its jump
        assert srv.reconcile()["ok"] and srv.audit()["ok"]
    finally:
        srv.stop()
    srv = Server(
        tmp_path, url, fixtures=tmp_path / "fixtures.json", state_dir=tmp_path / "state",
        extra=[], reset=True,
    )  # fmt: skip
    try:
        assert "new world" in srv.log_path.read_text()
        with srv.client() as c:
            assert c.get(f"/v1/cases/{banks[0]['case_id']}", headers=h).status_code == 404
        assert srv.audit()["entries"] == 0
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def left_behind(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database and state folder an earlier server left behind (made once)."""
    tmp = tmp_path_factory.mktemp("left")
    same_command(tmp, f"sqlite:///{tmp / 'api.sqlite3'}")().stop()
    return tmp


@pytest.fixture
def resumable(left_behind: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A copy of it, for a test to spoil."""
    for name in ("api.sqlite3", "api.sqlite3-wal", "api.sqlite3-shm"):
        if (left_behind / name).exists():
            shutil.copy2(left_behind / name, tmp_path / name)
    shutil.copytree(left_behind / "state", tmp_path / "state")
    yield f"sqlite:///{tmp_path / 'api.sqlite3'}", tmp_path / "state"


def serve_args(url: str, state: Path, *extra: str) -> list[str]:
    return [
        "serve", "--scenario", str(BASELINE), "--port", "0", "--db", url,
        "--state-dir", str(state), "--seed", "7", "--time-scale", "2",
        *settings_args(), *extra,
    ]  # fmt: skip


def last_line(res: Any) -> str:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    return str(res.stderr.strip().splitlines()[-1])


def test_another_seed_or_scenario_is_refused(chakong: Any, resumable: Any) -> None:
    url, state = resumable
    line = last_line(chakong(*serve_args(url, state), "--seed", "8"))
    assert "--seed: 7 in the database, 8 here" in line and "--reset" in line
    line = last_line(chakong(*serve_args(url, state, "--set", "api.debtors=41")))
    assert "--scenario: api.debtors: 40 in the database, 41 here" in line


def test_another_schema_version_is_refused(chakong: Any, resumable: Any) -> None:
    url, state = resumable
    db = Database(url, pool_size=1)
    db.write(lambda c: c.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'")))
    db.dispose()
    line = last_line(chakong(*serve_args(url, state)))
    assert "schema version 1; this server reads version 2: start with --reset" in line


def test_a_missing_audit_key_is_refused(chakong: Any, resumable: Any) -> None:
    url, state = resumable
    (state / "audit.key").unlink()
    line = last_line(chakong(*serve_args(url, state)))
    assert "the audit key is missing" in line and "audit.key" in line
