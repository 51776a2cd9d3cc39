"""Hostile input, answered plainly (a real server, SQLite and PostgreSQL, two workers): deep
nesting, huge numbers, money that is not a whole number of fen, lax path ids, duplicate keys
and slow bodies each get the 4xx and the code the README documents, on every endpoint that
takes a body, before any work; a missing token is answered 401 before a bad body is read;
a flood of bad tokens is counted in the audit log, not written entry by entry, and does not
touch the database; nothing leaves a traceback in the server's log."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.support import PgDatabases, Server

BODIES = {  # each endpoint that takes a body, a number in it left open
    "/v1/cases": b'{"debtor_id": "D000001", "claim_fen": %s}',
    "/v1/queries": b'{"case_id": %s, "channel": "central"}',
    "/v1/controls": b'{"case_id": %s, "asset_id": "D000001-0", "action": "freeze"}',
}
TWICE = b', "channel": "x", "channel": "y"}'
DEEP = b'{"case_id": ' + b"[" * 1000 + b"]" * 1000 + b"}"
HOSTILE = [  # (name, the body from the endpoint's template, status, code)
    ("nested 1,000 deep", lambda t: DEEP, 400, "malformed_json"),
    ("nested arrays only", lambda t: b"[" * 5000, 400, "malformed_json"),
    ("a duplicate key", lambda t: t[:-1] % b"1" + TWICE, 400, "malformed_json"),
    ("NaN", lambda t: t % b"NaN", 400, "malformed_json"),
    ("Infinity", lambda t: t % b"-Infinity", 400, "malformed_json"),
    ("not UTF-8", lambda t: b'{"x": "\xff"}', 400, "malformed_json"),
    ("a huge number", lambda t: t % (b"9" * 5000), 422, "invalid_request"),
    ("a huge exponent", lambda t: t % b"1e999999999", 422, "invalid_request"),
    ("not a whole number", lambda t: t % b"0.99999999999999999", 422, "invalid_request"),
]  # fmt: skip


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
)
def server(
    request: pytest.FixtureRequest, pg: PgDatabases, tmp_path_factory: Any
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{tmp / 'api.sqlite3'}" if request.param == "sqlite" else pg.new()
    srv = Server(tmp, url, workers=2, body_timeout=1.0)
    try:
        yield srv
        log = srv.log_path.read_text()
        assert "Traceback" not in log and "Exception" not in log, log
    finally:
        srv.stop()


def post(srv: Server, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    h = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex, **headers}
    return httpx.post(srv.url + path, content=body, headers=h, timeout=30)


@pytest.mark.parametrize(("name", "make", "status", "code"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_bodies_get_a_documented_4xx_everywhere(
    server: Server, name: str, make: Any, status: int, code: str
) -> None:
    _, h = server.court("hunan")
    before = server.reconcile()
    for path, template in BODIES.items():
        r = post(server, path, make(template), h)
        assert (r.status_code, r.json()["code"]) == (status, code), f"{path}: {r.text}"
    assert server.reconcile() == before  # no work done


def test_a_bad_body_without_a_token_is_401_not_400(server: Server) -> None:
    for path in BODIES:
        r = post(server, path, DEEP, {})
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated", r.text
        r = post(server, path, b"{", {"Authorization": "Bearer nobody"})
        assert r.status_code == 401, r.text


@pytest.mark.parametrize("ident", ["1.0", "+1", "%201", "1%20", "01", "0x1", "1_000", "١"])
def test_lax_path_ids_are_422(server: Server, ident: str) -> None:
    _, h = server.court("hunan")
    for template in ("/v1/cases/{}", "/v1/queries/{}", "/v1/controls/{}"):
        r = httpx.get(server.url + template.format(ident), headers=h)
        assert r.status_code == 422 and r.json()["code"] == "invalid_request", r.text


def test_a_slow_body_is_408_and_the_connection_closed(server: Server) -> None:
    _, h = server.court("hunan")
    host, port = server.url.removeprefix("http://").split(":")
    for path, template in BODIES.items():
        body = template % b"1"
        with socket.create_connection((host, int(port)), timeout=10) as s:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {h['Authorization']}\r\n"
                f"Content-Type: application/json\r\nIdempotency-Key: slow-{uuid.uuid4().hex}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            s.sendall(head.encode() + body[:5])
            started = time.monotonic()
            answer = b""
            while chunk := s.recv(4096):  # the server answers, then closes
                answer += chunk
            assert time.monotonic() - started < 5
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b'"code":"body_timeout"' in answer


def test_a_flood_of_bad_tokens_is_counted_not_written(server: Server) -> None:
    first = server.audit_settled()
    flood = 300
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for i in range(flood):
            c.post(
                "/v1/controls",
                content=BODIES["/v1/controls"] % b"1",
                headers={"Authorization": f"Bearer flood-{i}", "Content-Type": "application/json"},
            )
    then = server.audit_settled()
    assert then["refused"] - first["refused"] == flood
    assert then["entries"] - first["entries"] <= 4  # one entry per worker and second or so
