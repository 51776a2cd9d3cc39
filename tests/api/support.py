"""Helpers of the API tests: a real `chakong serve` process, PostgreSQL databases, a test world.

The test world is the baseline scenario made quick and sure to find things: agencies poll
around the clock, every debtor holds a bank deposit, real estate and a provident fund worth
200,000 yuan (above the 50,000-yuan annual cap), central records are always right,
Chongqing's local land-registry records are nearly always wrong (to meet stale records),
its provident-fund freezes lapse after 0.73 days, and Hunan has no local channel.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx
import pytest

from load.bench.settings import POLLING_AROUND_THE_CLOCK
from load.harness.processes import stop as stop_process_group
from tests.conftest import BASELINE, ROOT, chakong_exe

PG_ADMIN_URL = os.environ.get("CHAKONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TIME_SCALE = 2.0  # seconds of wall time per simulated day in the tests
TEST_SETTINGS = [
    "api.debtors=40",
    "start_date=2023-01-02",  # a Monday: the tests run far from a year's end
    "debtors.nothing_share=0",
    "debtors.assets.bank_deposit.hold_probability=1",
    "debtors.assets.real_estate.hold_probability=1",
    "debtors.assets.provident_fund.hold_probability=1",
    "debtors.assets.provident_fund.value_yuan=200000",
    "channels.central.error_probability=0",
    "regions.chongqing.channels.local.per_agency.land_registry.error_probability=0.99",
    "regions.chongqing.policy.provident_fund_freeze_years=0.002",  # 0.73 days: lapses fast
    "regions.hunan.channels.local.use=false",  # Hunan has no local channel
    "api.over_freeze_share=0.5",  # courts may freeze half as much again as a claim needs
    *POLLING_AROUND_THE_CLOCK,
]
CAP_FEN = 50_000 * 100  # the baseline's provident-fund cap in every region


def settings_args(extra: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    out: list[str] = []
    for s in [*TEST_SETTINGS, *extra]:
        out += ["--set", s]
    return out


# ---------------------------------------------------------------- PostgreSQL


def _pg_reachable() -> str | None:
    """None if the test server answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(_libpq(PG_ADMIN_URL), connect_timeout=2):
            return None
    except Exception as exc:  # any failure means: no server to test against
        return f"PostgreSQL at {PG_ADMIN_URL} not reachable ({type(exc).__name__}: {exc})"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class PgDatabases:
    """Fresh databases on the test server, each dropped at the end of the session."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.why_not = _pg_reachable()

    def new(self) -> str:
        if self.why_not:
            pytest.skip(self.why_not)
        import psycopg

        name = f"chakong_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        if not self.made:
            return
        import psycopg

        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
            for name in self.made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- a real server


class Server:
    """`chakong serve` in its own process on a free loopback port."""

    def __init__(
        self,
        tmp: Path,
        db_url: str | None,
        workers: int = 1,
        extra: list[str] = (),  # type: ignore[assignment]
        seed: int = 7,
        fixtures: Path | None = None,
        env: dict[str, str] | None = None,
        time_scale: float = TIME_SCALE,
        state_dir: Path | None = None,
        reset: bool = False,
        body_timeout: float | None = None,
    ) -> None:
        self.fixtures_path = fixtures or tmp / f"fixtures-{uuid.uuid4().hex[:6]}.json"
        self.fixtures_path.unlink(missing_ok=True)  # an earlier server's: not this one's
        self.log_path = tmp / f"serve-{uuid.uuid4().hex[:6]}.log"
        self.db_url = db_url
        self.used: set[str] = set()
        args = [
            *chakong_exe(),
            "serve",
            "--scenario",
            str(BASELINE),
            "--port",
            "0",
            *(["--db", db_url] if db_url else []),
            "--workers",
            str(workers),
            "--time-scale",
            str(time_scale),
            "--seed",
            str(seed),
            "--fixtures-out",
            str(self.fixtures_path),
            *(["--state-dir", str(state_dir)] if state_dir is not None else []),
            *(["--reset"] if reset else []),
            *(["--body-timeout", str(body_timeout)] if body_timeout else []),
            *settings_args(list(extra)),
        ]
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        self.fixtures = self._wait_ready()
        self.url = self.fixtures["base_url"]
        self.admin = {"Authorization": f"Bearer {self.fixtures['admin_token']}"}

    def _wait_ready(self, timeout: float = 120) -> dict[str, Any]:
        """The fixtures the server wrote, once it answers /healthz. The deadline is generous: a
        server with two workers starts in seconds, but far slower on a loaded 2-core machine."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chakong serve exited: {self.log_path.read_text()}")
            if self.fixtures_path.exists():
                fixtures = json.loads(self.fixtures_path.read_text())
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(fixtures["base_url"] + "/healthz", timeout=1).status_code == 200:
                        return fixtures
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"chakong serve not ready in {timeout} s: {self.log_path.read_text()}")

    def stop(self) -> None:
        stop_process_group(self.proc, grace=10)
        self.log.close()

    # ------------------------------------------------------------ court helpers

    def court(self, region: str | None = None, skip: int = 0) -> tuple[str, dict[str, str]]:
        """A court (of ``region``), its id and auth headers."""
        found = [
            (cid, c) for cid, c in self.fixtures["courts"].items() if region in (None, c["region"])
        ]
        cid, c = found[skip]
        return cid, {"Authorization": f"Bearer {c['token']}"}

    def debtor(self, region: str | None = None) -> str:
        """A debtor (of ``region``) no earlier call handed out: its assets are untouched."""
        for d in self.fixtures["debtors"]:
            if region in (None, d["region"]) and d["debtor_id"] not in self.used:
                self.used.add(d["debtor_id"])
                return d["debtor_id"]
        raise AssertionError(f"no fresh debtor left in {region}")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def reconcile(self) -> dict[str, Any]:
        return httpx.get(self.url + "/v1/admin/reconcile", headers=self.admin, timeout=30).json()

    def audit(self) -> dict[str, Any]:
        r = httpx.get(self.url + "/v1/admin/audit/verify", headers=self.admin, timeout=30)
        return r.json()

    def audit_settled(self) -> dict[str, Any]:
        """The audit verified after every worker wrote the refusals it counted (each writes
        them once a second) and sealed its chains in a checkpoint."""
        time.sleep(2.2)
        return self.audit()


def open_case(c: httpx.Client, h: dict[str, str], debtor: str, claim_fen: int) -> int:
    r = c.post("/v1/cases", json={"debtor_id": debtor, "claim_fen": claim_fen}, headers=h)
    assert r.status_code == 201, r.text
    return int(r.json()["case_id"])


def find(
    c: httpx.Client, h: dict[str, str], case: int, channel: str, asset_type: str, wait: float = 20
) -> dict[str, Any]:
    """Query over ``channel`` and wait for a finding of ``asset_type``."""
    r = c.post("/v1/queries", json={"case_id": case, "channel": channel}, headers=h)
    assert r.status_code == 202, r.text
    query = r.json()["query_id"]
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        view = c.get(f"/v1/queries/{query}", headers=h).json()
        for f in view["findings"]:
            if f["asset_type"] == asset_type:
                return {**f, "query_id": query}
        if view["status"] == "answered":
            raise AssertionError(f"query {query} answered without a {asset_type}: {view}")
        time.sleep(0.05)
    raise AssertionError(f"no {asset_type} found by query {query} in {wait} s")


def control(
    c: httpx.Client, h: dict[str, str], key: str | None = None, **body: Any
) -> httpx.Response:
    headers = {**h, "Idempotency-Key": key or uuid.uuid4().hex}
    return c.post("/v1/controls", json=body, headers=headers)


@contextlib.contextmanager
def running(*args: Any, **kwargs: Any) -> Iterator[Server]:
    server = Server(*args, **kwargs)
    try:
        yield server
    finally:
        server.stop()


def all_at_once(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(i)`` for i < n in n threads released together."""
    gate = Barrier(n)

    def task(i: int) -> Any:
        gate.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(task, range(n)))


def check_cap(replies: list[tuple[int, dict[str, Any]]], cap_fen: int) -> None:
    """The cap held: deductions that succeeded take at most the cap in each calendar year,
    and every other reply is a cap refusal."""
    taken: dict[str, int] = {}
    for status, body in replies:
        if status == 201:
            year = body["sim_time"][:4]
            taken[year] = taken.get(year, 0) + body["amount_fen"]
        else:
            assert (status, body["code"]) == (409, "cap_exceeded"), body
    for year, amount in taken.items():
        assert amount <= cap_fen, f"{amount} fen deducted in {year}, cap {cap_fen}"
