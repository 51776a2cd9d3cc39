"""The reference API as a real server (`chakong serve`, two uvicorn workers) on SQLite and on
PostgreSQL: concurrency, idempotency, authorisation, bad input, refusals; reconcile and
the audit chain say ok after all of it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api_support import (
    CAP_FEN,
    PgDatabases,
    Server,
    all_at_once,
    check_cap,
    control,
    find,
    open_case,
)

BIG_CLAIM = 10**12  # fen: no claim limit gets in the way


@pytest.fixture(scope="session")
def pg() -> Any:
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, pg: PgDatabases, tmp_path_factory: Any) -> Any:
    tmp = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{tmp / 'api.sqlite3'}" if request.param == "sqlite" else pg.new()
    srv = Server(tmp, url, workers=2)
    yield srv
    try:
        # after everything the module did: money conserved, caps held, chain intact
        rec = srv.reconcile()
        assert rec["ok"], rec
        assert srv.audit()["ok"]
    finally:
        srv.stop()


def frozen_fund(
    srv: Server, c: httpx.Client, region: str = "hunan"
) -> tuple[dict[str, str], int, str]:
    """A new case holding a freeze of a debtor's whole provident fund (200,000 yuan)."""
    _, h = srv.court(region)
    case = open_case(c, h, srv.debtor(region), BIG_CLAIM)
    fund = find(c, h, case, "central", "provident_fund")
    r = control(c, h, case_id=case, asset_id=fund["asset_id"], action="freeze")
    assert r.status_code == 201, r.text
    assert r.json()["held_fen"] == 200_000 * 100
    return h, case, fund["asset_id"]


# ---------------------------------------------------------------- concurrency


@pytest.fixture
def c(server: Server) -> Any:
    with server.client() as client:
        yield client


def test_64_concurrent_deductions_never_pass_the_cap(server: Server, c: httpx.Client) -> None:
    h, case, asset = frozen_fund(server, c)
    step = 100_000  # 1,000 yuan: the cap allows exactly 50 of the 64

    def deduct(i: int) -> tuple[int, dict[str, Any]]:
        with server.client() as own:  # one connection per thread: really concurrent
            r = control(own, h, case_id=case, asset_id=asset, action="deduct", amount_fen=step)
            return r.status_code, r.json()

    replies = all_at_once(64, deduct)
    check_cap(replies, CAP_FEN)
    assert sum(s == 201 for s, _ in replies) == CAP_FEN // step  # the cap, to the fen
    view = c.get(f"/v1/cases/{case}", headers=h).json()
    assert view["recovered_fen"] == CAP_FEN
    assert sum(x["outcome"] == "cap_exceeded" for x in view["controls"]) == 64 - CAP_FEN // step


def test_one_idempotency_key_sent_16_times_at_once_acts_once(
    server: Server, c: httpx.Client
) -> None:
    h, case, asset = frozen_fund(server, c)
    key = uuid.uuid4().hex
    body = {"case_id": case, "asset_id": asset, "action": "deduct", "amount_fen": 12_345}

    def send(i: int) -> tuple[int, bytes]:
        with server.client() as own:
            r = control(own, h, key=key, **body)
            return r.status_code, r.content

    replies = all_at_once(16, send)
    assert {status for status, _ in replies} == {201}
    assert len({content for _, content in replies}) == 1  # every reply identical
    view = c.get(f"/v1/cases/{case}", headers=h).json()
    assert view["recovered_fen"] == 12_345
    assert [x["action"] for x in view["controls"]] == ["freeze", "deduct"]

    # the same key with another body: refused, and nothing happens
    r = control(c, h, key=key, **{**body, "amount_fen": 99})
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused", r.text
    assert c.get(f"/v1/cases/{case}", headers=h).json() == view
    # and the first body again still gets the first reply
    again = control(c, h, key=key, **body)
    assert (again.status_code, again.content) == replies[0]
