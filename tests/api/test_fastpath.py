"""The fast path changes nothing a client can see: the same battery of good and bad requests
to two real servers on the same world, one with the fast path and one without
(``CHAKONG_API_FAST_PATH=0``), gets the same status, headers and body, byte for byte, and
leaves the same audit entries and metrics behind. The servers' clocks stand still (a
simulated day lasts 10^9 s) and agencies answer at once, so every reply is deterministic.

And the fast path does take the two hot requests when they are good (and only then)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import Response

from load.api import models
from load.api.app import create_app
from load.api.db import Database
from load.api.fastpath import FastPath
from load.api.fixtures import create_world
from load.api.state import StateDir
from sim.scenario import load_scenario
from tests.api.support import TEST_SETTINGS, Server, find, open_case
from tests.conftest import BASELINE

AGENCIES = ("bank", "land_registry", "vehicle_admin", "securities_depository", "insurer")
STILL_CLOCK = 1e9  # seconds per simulated day: the clock stands still
STILL = [  # every agency answers the moment it is asked
    *(f"agencies.{a}.poll_interval_minutes=0" for a in (*AGENCIES, "provident_fund_centre")),
    *(
        f'agencies.{a}.processing_days={{kind="constant",value=0}}'
        for a in (*AGENCIES, "provident_fund_centre")
    ),
    *(f'channels.{c}.latency_days={{kind="constant",value=0}}' for c in ("central", "local")),
    'channels.central.per_agency.securities_depository={latency_days={kind="constant",value=0}}',
]
SHOWN_HEADERS = ("content-type", "www-authenticate", "retry-after", "location", "allow")
Request = tuple[str, str, list[tuple[str, str]], bytes | tuple[bytes, ...] | None]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("fastpath")
    fast = Server(tmp, f"sqlite:///{tmp / 'fast.sqlite3'}", extra=STILL, time_scale=STILL_CLOCK)
    try:
        slow = Server(
            tmp,
            f"sqlite:///{tmp / 'slow.sqlite3'}",
            extra=STILL,
            time_scale=STILL_CLOCK,
            env={"CHAKONG_API_FAST_PATH": "0"},
        )
    except BaseException:
        fast.stop()
        raise
    try:
        yield fast, slow
    finally:
        fast.stop()
        slow.stop()


def setup_world(srv: Server) -> dict[str, Any]:
    """The same cases, queries and freezes on either server (the same world and seed)."""
    _, mine = srv.court("hunan")
    _, other = srv.court("liaoning")
    with srv.client() as c:
        case = open_case(c, mine, srv.debtor("hunan"), 10**9)
        bank = find(c, mine, case, "central", "bank_deposit")
        fund = find(c, mine, case, "central", "provident_fund")
        theirs = open_case(c, other, srv.debtor("liaoning"), 10**9)
        their_query = find(c, other, theirs, "central", "bank_deposit")["query_id"]
    return {
        "mine": mine["Authorization"],
        "other": other["Authorization"],
        "admin": srv.admin["Authorization"],
        "case": case,
        "query": bank["query_id"],
        "their_query": their_query,
        "bank": bank["asset_id"],
        "fund": fund["asset_id"],
    }


def battery(w: dict[str, Any]) -> list[Request]:
    """(method, path, headers, body) of every request, in order."""
    json_ = ("Content-Type", "application/json")

    def auth(token: str) -> tuple[str, str]:
        return ("Authorization", token)

    def control(key: str, body: str, token: str = w["mine"], *extra: tuple[str, str]) -> Request:
        headers = [auth(token), json_, ("Idempotency-Key", key), *extra]
        return ("POST", "/v1/controls", headers, body.encode())

    case, bank, fund = w["case"], w["bank"], w["fund"]

    def on_fund(action: str, extra: str = "") -> str:
        return f'{{"case_id": {case}, "asset_id": "{fund}", "action": "{action}"{extra}}}'

    freeze = f'{{"case_id": {case}, "asset_id": "{bank}", "action": "freeze", "amount_fen": 5000}}'
    deduct = f'{{"case_id": {case}, "asset_id": "{bank}", "action": "deduct", "amount_fen": 7}}'
    out: list[Request] = []
    # GET /v1/queries/{id}: good, another court's, missing, lax and bad ids
    token_variants = [
        [auth(w["mine"])],
        [auth(w["other"])],
        [auth(w["admin"])],
        [],
        [auth("Bearer")],
        [auth("Bearer ")],
        [auth("Basic " + w["mine"].split()[1])],
        [auth("bearer " + w["mine"].split()[1])],
        [auth("Bearer   " + w["mine"].split()[1] + "  ")],
        [auth("Bearer court-nobody")],
        [auth("Bearer court-nobody"), auth(w["mine"])],
        [auth(w["mine"]), auth("Bearer court-nobody")],
    ]
    for headers in token_variants:
        out.append(("GET", f"/v1/queries/{w['query']}", headers, None))
    for ident in (
        w["their_query"], 987654321, "1.0", "+1", "%201", "1%20", "0", "-1", "01", "1e3",
        "abc", "", "9007199254740992", "9007199254740993", "99999999999999999999999",
        "1" * 5000, f"{w['query']}/", f"{w['query']}/x", "１",
    ):  # fmt: skip
        out.append(("GET", f"/v1/queries/{ident}", [auth(w["mine"])], None))
        out.append(("GET", f"/v1/queries/{ident}", [], None))
    for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
        out.append((method, f"/v1/queries/{w['query']}", [auth(w["mine"])], None))
    # POST /v1/controls: the good ones and their replays
    out += [
        control("f-1", freeze),
        control("f-1", freeze),  # replayed
        control("d-1", deduct),
        control("d-1", deduct),
        control("d-1", deduct.replace("7", "8")),  # the key with another body
        control("d-2", deduct, w["other"]),  # another court's case
        control("d-3", deduct.replace(bank, "D999999-0")),
        control("d-4", deduct.replace(f'"case_id": {case}', '"case_id": 987654321')),
        control("r-1", f'{{"case_id": {case}, "asset_id": "{bank}", "action": "renew"}}'),
        control("z-1", on_fund("deduct", ', "amount_fen": 1')),
        control("f-2", on_fund("freeze")),
        control("f-3", on_fund("freeze")),
        control("d-5", deduct.replace(": 7}", ": 100.0}")),  # a whole number written as 100.0
        control("d-6", deduct.replace(": 7}", ": 1e2}")),
        control("u-1", on_fund("unfreeze")),
    ]  # fmt: skip
    # tokens
    for headers in token_variants[1:]:
        h = [*headers, json_, ("Idempotency-Key", f"t-{len(out)}")]
        out.append(("POST", "/v1/controls", h, deduct.encode()))
    # keys
    for key in ("", " ", "has space", "x" * 255, "y" * 256, "ключ", "\t", "k\x7f"):
        out.append(control(key, deduct))
    out.append(("POST", "/v1/controls", [auth(w["mine"]), json_], deduct.encode()))  # no key
    out.append(control("k-two", deduct, w["mine"], ("Idempotency-Key", "k-second")))
    # content types
    for ctype in (
        None, "text/plain", "application/json; charset=utf-8", "APPLICATION/JSON",
        "application/merge-patch+json", "application/jsonx", "application/json;", "",
        "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
    ):  # fmt: skip
        h = [auth(w["mine"]), ("Idempotency-Key", f"c-{len(out)}")]
        h += [] if ctype is None else [("Content-Type", ctype)]
        out.append(("POST", "/v1/controls", h, deduct.replace(": 7}", ": 2}").encode()))
    # bodies
    bad_bodies = [
        b"", b"{", b"null", b"[]", b'"x"', b"1", b"{}", b"\xff\xfe", b"\xef\xbb\xbf{}",
        deduct.replace("}", ', "amount_fen": 9}').encode(),  # a duplicate key
        deduct.replace('"action"', '"action": "freeze", "action"').encode(),
        b"[" * 1000 + b"]" * 1000,
        b'{"case_id": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"a": "' + b"[" * 100 + b'"}',  # brackets in a string are not nesting
        *(deduct.replace(": 7}", amount_and_after).encode() for amount_and_after in (
            ": NaN}", ": Infinity}", ": -Infinity}", ": 99.99999999999999999}", ": 1e999999999}",
            ": 1e-999999999}", ": " + "9" * 4000 + "}", ": 2.5}", ': "7"}', ": true}", ": -7}",
            ": 0}", ', "extra": 1}',
        )),
        deduct.replace('"deduct"', '"seize"').encode(),
        deduct.replace(f'"case_id": {case}', '"case_id": 1.5').encode(),
        deduct.replace(f'"case_id": {case}', f'"case_id": "{case}"').encode(),
        deduct.encode() + b" trailing",
        b"  " + deduct.encode() + b"\n",
        deduct.encode().replace(b" ", b"\t"),
        b'{"case_id": 1, "asset_id": "a\\u0000b", "action": "deduct", "amount_fen": 1}',
        b'{"case_id": 1, "asset_id": "\\ud800", "action": "deduct", "amount_fen": 1}',
    ]  # fmt: skip
    for body in bad_bodies:
        h = [auth(w["mine"]), json_, ("Idempotency-Key", f"b-{len(out)}")]
        out.append(("POST", "/v1/controls", h, body))
    # the body limit: declared over it, and chunked (no Content-Length) under and over it
    big = deduct.replace(": 7}", ', "pad": "' + "x" * 20_000 + '"}').encode()
    out.append(("POST", "/v1/controls", [auth(w["mine"]), json_, ("Idempotency-Key", "big")], big))
    chunked = (deduct.encode()[:10], deduct.encode()[10:])
    for token in (w["mine"], "Bearer court-nobody"):
        h = [auth(token), json_, ("Idempotency-Key", f"ch-{len(out)}")]
        out.append(("POST", "/v1/controls", h, chunked))
    h = [auth(w["mine"]), json_, ("Idempotency-Key", "ch-big")]
    out.append(("POST", "/v1/controls", h, (b" " * 1000,) * 20 + (deduct.encode(),)))
    # other methods on the path, and paths that are almost it
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        out.append((method, "/v1/controls", [auth(w["mine"])], None))
    for path in ("/v1/controls/", "/v1/Controls", "/v1/controls/1", "//v1/controls"):
        h = [auth(w["mine"]), json_, ("Idempotency-Key", f"p-{len(out)}")]
        out.append(("POST", path, h, deduct.encode()))
    return out


async def send_raw(
    url: str, method: str, path: str, headers: list[tuple[str, str]], body: Any
) -> bytes:
    """One request as raw bytes on its own connection (a client library would refuse to send
    some of the battery's headers), and the whole answer."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    if isinstance(body, tuple):  # chunked
        lines.append("Transfer-Encoding: chunked")
        data = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in body) + b"0\r\n\r\n"
    elif body is not None:
        lines.append(f"Content-Length: {len(body)}")
        data = body
    else:
        data = b""
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write("\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + data)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


def parse(answer: bytes, method: str) -> tuple[int, list[str], bytes]:
    head, _, rest = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            body, rest = body + rest[:n], rest[n + 2 :]
    else:
        body = rest
    shown = [f"{k}: {headers[k]}" for k in SHOWN_HEADERS if k in headers]
    return int(status_line.split()[1]), shown, body


async def send_all(srv: Server, requests: list[Request]) -> list[tuple[int, list[str], bytes]]:
    return [
        parse(await send_raw(srv.url, method, path, headers, body), method)
        for method, path, headers, body in requests
    ]


def counters(srv: Server) -> list[str]:
    """The request and control counters of /metrics (the latency sums differ, the counts
    may not). /healthz is left out: the start-up helper polls it until the server answers,
    as often as the start took, whichever path the server has."""
    text = httpx.get(srv.url + "/metrics").text
    wanted = re.compile(
        r"^chakong_api_(requests_total|controls_total|request_duration_seconds_count)"
    )
    return sorted(
        line for line in text.splitlines() if wanted.match(line) and 'route="/healthz"' not in line
    )


def test_the_same_requests_get_the_same_bytes_with_and_without_the_fast_path(
    servers: tuple[Server, Server],
) -> None:
    fast, slow = servers
    worlds = [setup_world(srv) for srv in servers]
    assert worlds[0] == worlds[1]
    requests = battery(worlds[0])
    got_fast = asyncio.run(send_all(fast, requests))
    got_slow = asyncio.run(send_all(slow, requests))
    for request, a, b in zip(requests, got_fast, got_slow, strict=True):
        assert a == b, f"{request[0]} {request[1]} {request[2]} {request[3]!r:.120}: {a} {b}"
        assert a[0] < 500, f"{request[0]} {request[1]}: {a}"
    statuses = {status for status, _, _ in got_fast}
    assert {200, 201, 400, 401, 403, 404, 405, 409, 413, 415, 422} <= statuses, statuses
    # the same effects where they can be seen: audit entries, money, metrics
    # the audit: the same refusals counted (how many entries hold them depends on when each
    # worker's second came round, not on the path a request took)
    audited, other = fast.audit_settled(), slow.audit()
    assert audited["ok"] and other["ok"] and audited["refused"] == other["refused"] > 0
    assert fast.reconcile() == slow.reconcile()
    assert counters(fast) == counters(slow)


# ---------------------------------------------------------------- it is taken when it should be


@pytest.fixture
def fast_path(tmp_path: Path) -> Iterator[tuple[FastPath, dict[str, Any], list[str]]]:
    url = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    db = Database(url, pool_size=1)
    fixtures = create_world(db, load_scenario(BASELINE, TEST_SETTINGS).scenario, 3)
    db.dispose()
    state = StateDir(tmp_path / "state")
    state.new_key()
    fastapi: Any = create_app(url, fast_path=False, state_dir=str(state.path)).app
    calls: list[str] = []

    async def through(scope: Any, receive: Any, send: Any) -> None:
        calls.append("routes")
        await Response(b"{}", 299)(scope, receive, send)

    async def query(court: Any, query_id: int) -> Response:
        calls.append(f"query {court.court_id} {query_id}")
        return Response(b"{}", 200)

    async def control(court: Any, key: str, body: Any) -> Response:
        calls.append(f"control {court.court_id} {key} {body.action}")
        return Response(b"{}", 201)

    from load.api.denials import Denials
    from load.api.handlers import Answers

    answers = Answers(Denials(fastapi.state.world))
    path = FastPath(through, fastapi.state.auth, answers, query, control)
    yield path, fixtures, calls


def test_the_fast_path_takes_good_requests_and_leaves_the_rest(fast_path: Any) -> None:
    path, fixtures, calls = fast_path
    token = fixtures["courts"]["hunan-1"]["token"]
    good = b'{"case_id": 1, "asset_id": "A-1", "action": "deduct", "amount_fen": 5}'
    transport = httpx.ASGITransport(app=path)

    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = {"Authorization": f"Bearer {token}"}
            post = {**h, "Content-Type": "application/json", "Idempotency-Key": "k"}

            async def control(body: bytes = good, **headers: str) -> int:
                r = await c.post("/v1/controls", headers={**post, **headers}, content=body)
                return r.status_code

            return [
                (await c.get("/v1/queries/12", headers=h)).status_code,
                await control(),
                (await c.get("/v1/queries/1.0", headers=h)).status_code,
                (await c.get("/v1/queries/12")).status_code,
                await control(**{"Idempotency-Key": "a b"}),
                await control(good[:-1]),
                await control(**{"Content-Type": "text/plain"}),
                await control(good.replace(b"5}", b"5.5}")),
            ]

    assert asyncio.run(go()) == [200, 201, 299, 299, 299, 299, 299, 299]
    assert calls == ["query hunan-1 12", "control hunan-1 k deduct", *["routes"] * 6]
    assert models.MAX_ID == 2**53
