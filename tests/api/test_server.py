"""The reference API as a real server (`chakong serve`, two uvicorn workers) on SQLite and on
PostgreSQL: concurrency, idempotency, authorisation, bad input, refusals; reconcile and
the audit chain say ok after all of it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.api.support import (
    CAP_FEN,
    TIME_SCALE,
    PgDatabases,
    Server,
    all_at_once,
    check_cap,
    control,
    find,
    open_case,
)

BIG_CLAIM = 10**12  # fen: no claim limit gets in the way


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
)
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


def test_deductions_from_two_assets_of_one_case_never_pass_its_claim(
    server: Server, c: httpx.Client
) -> None:
    """Two deductions at once, each within the claim alone, from two different assets of
    one case: together they would pass the claim by one fen, so exactly one may succeed.
    (On PostgreSQL each control locks the asset's row; the case's row must be locked too.)
    The test world lets courts freeze half as much again as a claim needs, so the two
    freezes can hold a fen more than the claim."""
    claim = 40_000 * 100
    for _ in range(6):
        _, h = server.court("hunan")
        case = open_case(c, h, server.debtor("hunan"), claim)
        fund = find(c, h, case, "central", "provident_fund")
        bank = find(c, h, case, "central", "bank_deposit")
        from_bank = min(bank["balance_fen"], claim - 1)
        amounts = {bank["asset_id"]: from_bank, fund["asset_id"]: claim - from_bank + 1}
        for asset, amount in amounts.items():
            r = control(c, h, case_id=case, asset_id=asset, action="freeze", amount_fen=amount)
            assert r.status_code == 201 and r.json()["held_fen"] == amount, r.text

        def deduct(i: int, h=h, case=case, amounts=amounts) -> tuple[int, dict[str, Any]]:
            asset, amount = list(amounts.items())[i]
            with server.client() as own:
                r = control(
                    own, h, case_id=case, asset_id=asset, action="deduct", amount_fen=amount
                )
                return r.status_code, r.json()

        replies = all_at_once(2, deduct)
        statuses = sorted(s for s, _ in replies)
        assert statuses == [201, 409], replies
        assert [b["code"] for s, b in replies if s == 409] == ["exceeds_claim"], replies
        view = c.get(f"/v1/cases/{case}", headers=h).json()
        assert view["recovered_fen"] <= claim, view


# ---------------------------------------------------------------- authorisation


def test_another_courts_objects_are_not_found_exactly_like_missing_ones(
    server: Server, c: httpx.Client
) -> None:
    _, mine = server.court("hunan")
    _, other = server.court("liaoning")
    h, case, asset = frozen_fund(server, c)
    assert h == mine
    query = c.get(f"/v1/cases/{case}", headers=mine).json()["queries"][0]
    own_case = open_case(c, other, server.debtor("liaoning"), BIG_CLAIM)
    before = c.get(f"/v1/cases/{case}", headers=mine).json()
    reconciled = server.reconcile()
    refused = server.audit_settled()["refused"]
    missing = 987_654_321

    def same_404(kind: str, theirs: httpx.Response, nothing: httpx.Response, ident: Any) -> None:
        assert theirs.status_code == nothing.status_code == 404
        assert theirs.json() == {"code": "not_found", "detail": f"{kind} {ident} not found"}
        assert nothing.json() == {"code": "not_found", "detail": f"{kind} {missing} not found"}

    same_404(
        "case",
        c.get(f"/v1/cases/{case}", headers=other),
        c.get(f"/v1/cases/{missing}", headers=other),
        case,
    )
    same_404(
        "query",
        c.get(f"/v1/queries/{query}", headers=other),
        c.get(f"/v1/queries/{missing}", headers=other),
        query,
    )
    ask = {"channel": "central"}
    same_404(
        "case",
        c.post("/v1/queries", json={"case_id": case, **ask}, headers=other),
        c.post("/v1/queries", json={"case_id": missing, **ask}, headers=other),
        case,
    )
    take = {"asset_id": asset, "action": "deduct", "amount_fen": 100}
    same_404(
        "case",
        control(c, other, case_id=case, **take),
        control(c, other, case_id=missing, **take),
        case,
    )
    # its own case, but the other court's debtor's asset: as if the asset did not exist
    theirs = control(c, other, case_id=own_case, asset_id=asset, action="freeze")
    nothing = control(c, other, case_id=own_case, asset_id="D999999-0", action="freeze")
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.json()["detail"] == f"asset {asset} not found"
    assert nothing.json()["detail"] == "asset D999999-0 not found"
    denials = 10

    # no token, a wrong token: 401; the wrong kind of token: 403
    for headers in ({}, {"Authorization": "Bearer court-nobody"}, {"Authorization": "Basic x"}):
        r = c.get(f"/v1/cases/{case}", headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated", r.text
        assert r.headers["www-authenticate"] == "Bearer"
        r = control(c, headers, case_id=case, **take)
        assert r.status_code == 401, r.text
        denials += 2
    for path in ("/v1/admin/reconcile", "/v1/admin/audit/verify"):
        r = c.get(path, headers=mine)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
        denials += 1
    r = c.post("/v1/cases", json={"debtor_id": "D000001", "claim_fen": 1}, headers=server.admin)
    assert r.status_code == 403, r.text
    denials += 1

    # nothing changed, and every refusal is counted in the audit log
    assert c.get(f"/v1/cases/{case}", headers=mine).json() == before
    assert server.reconcile() == reconciled
    audited = server.audit_settled()
    assert audited["ok"] and audited["refused"] == refused + denials, audited


# ---------------------------------------------------------------- bad input

LONG = "x" * 300


def bad_requests(debtor: str, case: int, asset: str) -> list[tuple[str, str, dict, Any, int]]:
    """(method, path, extra headers, body (JSON-able, or bytes sent raw), expected status)."""
    ok_case = {"debtor_id": debtor, "claim_fen": 1000}
    ok_control = {"case_id": case, "asset_id": asset, "action": "deduct", "amount_fen": 100}
    out: list[tuple[str, str, dict, Any, int]] = []
    for claim in (-1, 0, 10**15 + 1, 10**30, 1.5, "1000", True, None, [1000], {"fen": 1}):
        out.append(("POST", "/v1/cases", {}, {**ok_case, "claim_fen": claim}, 422))
    for amount in (-100, 0, 10**16, 2**63, 99.5, "100", False):
        out.append(("POST", "/v1/controls", {}, {**ok_control, "amount_fen": amount}, 422))
    out += [
        ("POST", "/v1/cases", {}, {"debtor_id": debtor}, 422),  # missing
        ("POST", "/v1/cases", {}, {**ok_case, "court_id": "liaoning-1"}, 422),  # unknown field
        ("POST", "/v1/cases", {}, {**ok_case, "debtor_id": 12}, 422),
        ("POST", "/v1/cases", {}, {**ok_case, "debtor_id": ""}, 422),
        ("POST", "/v1/cases", {}, {**ok_case, "debtor_id": LONG}, 422),
        ("POST", "/v1/cases", {}, [ok_case], 422),
        ("POST", "/v1/cases", {}, b"{", 400),
        ("POST", "/v1/cases", {}, b'{"debtor_id": "D1", "claim_fen": 10', 400),
        ("POST", "/v1/cases", {}, b"\xff\xfe not utf-8", 400),
        ("POST", "/v1/cases", {}, b"", 422),
        ("POST", "/v1/cases", {}, b"null", 422),
        ("POST", "/v1/cases", {}, b'{"claim_fen": NaN, "debtor_id": "D1"}', 400),
        ("POST", "/v1/cases", {"Content-Type": "text/plain"}, b"debtor_id=D1", 415),
        ("POST", "/v1/cases", {}, {**ok_case, "pad": "x" * 20_000}, 413),  # oversized
        ("POST", "/v1/cases", {}, (b" " * 1000,) * 20 + (b"{}",), 413),  # and chunked
        ("POST", "/v1/queries", {}, {"case_id": case, "channel": "satellite"}, 422),
        ("POST", "/v1/queries", {}, {"case_id": str(case), "channel": "central"}, 422),
        ("POST", "/v1/queries", {}, {"case_id": 2**70, "channel": "central"}, 422),
        ("POST", "/v1/queries", {}, {"case_id": -1, "channel": "central"}, 422),
        ("POST", "/v1/controls", {}, {**ok_control, "action": "seize"}, 422),
        ("POST", "/v1/controls", {}, {**ok_control, "amount_fen": None}, 422),  # deduct: needs it
        ("POST", "/v1/controls", {}, {**ok_control, "action": "renew"}, 422),  # renew: takes none
        ("POST", "/v1/controls", {}, {**ok_control, "asset_id": "a b"}, 422),
        ("POST", "/v1/controls", {}, {**ok_control, "extra": 1}, 422),
        ("POST", "/v1/controls", {"Idempotency-Key": ""}, ok_control, 422),
        ("POST", "/v1/controls", {"Idempotency-Key": "has space"}, ok_control, 422),
        ("POST", "/v1/controls", {"Idempotency-Key": LONG}, ok_control, 422),
        ("POST", "/v1/controls", {"Idempotency-Key": None}, ok_control, 422),  # missing
        ("GET", "/v1/cases/abc", {}, None, 422),
        ("GET", "/v1/cases/0", {}, None, 422),
        ("GET", "/v1/cases/-5", {}, None, 422),
        ("GET", "/v1/cases/99999999999999999999999999", {}, None, 422),
        ("GET", "/v1/queries/1e3", {}, None, 422),
        ("DELETE", f"/v1/cases/{case}", {}, None, 405),
        ("GET", "/v1/nothing-here", {}, None, 404),
    ]
    return out


def test_bad_input_gets_a_clear_4xx_and_changes_nothing(server: Server, c: httpx.Client) -> None:
    h, case, asset = frozen_fund(server, c)
    debtor = server.debtor("hunan")
    before = c.get(f"/v1/cases/{case}", headers=h).json()
    reconciled = server.reconcile()
    last_case = open_case(c, h, debtor, 1000)
    for method, path, extra, body, expected in bad_requests(debtor, case, asset):
        headers = {**h, "Idempotency-Key": uuid.uuid4().hex, **extra}
        headers = {k: v for k, v in headers.items() if v is not None}
        if isinstance(body, tuple):  # sent in chunks, without a Content-Length
            headers["Content-Type"] = "application/json"
            r = c.request(method, path, content=iter(body), headers=headers)
        elif isinstance(body, bytes):
            headers.setdefault("Content-Type", "application/json")
            r = c.request(method, path, content=body, headers=headers)
        else:
            r = c.request(method, path, json=body, headers=headers)
        where = f"{method} {path} {extra} {body!r:.80}"
        assert r.status_code == expected, f"{where}: {r.status_code} {r.text}"
        problem = r.json()
        assert problem["code"] and problem["detail"], where
    # nothing changed: the case, the money, and no case was opened in between
    assert c.get(f"/v1/cases/{case}", headers=h).json() == before
    assert server.reconcile() == reconciled
    assert open_case(c, h, debtor, 1000) == last_case + 1


# ---------------------------------------------------------------- the rules


def refused(r: httpx.Response, code: str) -> None:
    assert r.status_code == 409, r.text
    assert r.json()["code"] == code, r.text


def test_every_refusal_code_is_answered_as_the_rules_say(server: Server, c: httpx.Client) -> None:
    # offline_required: Liaoning's local bank link cannot freeze online
    _, lia = server.court("liaoning")
    case = open_case(c, lia, server.debtor(), BIG_CLAIM)
    bank = find(c, lia, case, "local", "bank_deposit")
    refused(
        control(c, lia, case_id=case, asset_id=bank["asset_id"], action="freeze"),
        "offline_required",
    )
    # channel_unavailable: Hunan has no local channel
    _, hun = server.court("hunan")
    hcase = open_case(c, hun, server.debtor(), BIG_CLAIM)
    refused(
        c.post("/v1/queries", json={"case_id": hcase, "channel": "local"}, headers=hun),
        "channel_unavailable",
    )
    # stale_record: Chongqing's local land-registry record is (almost surely) wrong
    _, chq = server.court("chongqing")
    ccase = open_case(c, chq, server.debtor(), BIG_CLAIM)
    land = find(c, chq, ccase, "local", "real_estate")
    refused(
        control(c, chq, case_id=ccase, asset_id=land["asset_id"], action="freeze"), "stale_record"
    )

    # over the central channel (online, right records) in Hunan:
    fund = find(c, hun, hcase, "central", "provident_fund")["asset_id"]
    house = find(c, hun, hcase, "central", "real_estate")["asset_id"]
    refused(
        control(c, hun, case_id=hcase, asset_id=fund, action="deduct", amount_fen=1), "not_frozen"
    )
    refused(control(c, hun, case_id=hcase, asset_id=fund, action="renew"), "not_frozen")
    free = 200_000 * 100
    refused(
        control(c, hun, case_id=hcase, asset_id=fund, action="freeze", amount_fen=free + 1),
        "insufficient_balance",
    )
    r = control(c, hun, case_id=hcase, asset_id=fund, action="freeze", amount_fen=free - 500)
    assert r.status_code == 201 and r.json()["held_fen"] == free - 500, r.text
    refused(control(c, hun, case_id=hcase, asset_id=fund, action="freeze"), "already_frozen")
    refused(
        control(c, hun, case_id=hcase, asset_id=fund, action="deduct", amount_fen=free),
        "insufficient_balance",
    )
    renewed = control(c, hun, case_id=hcase, asset_id=fund, action="renew")
    assert renewed.status_code == 201 and renewed.json()["expires_at"] > r.json()["expires_at"]
    r = control(c, hun, case_id=hcase, asset_id=house, action="freeze")
    assert r.status_code == 201, r.text
    refused(
        control(c, hun, case_id=hcase, asset_id=house, action="deduct", amount_fen=100),
        "sale_required",
    )
    r = control(c, hun, case_id=hcase, asset_id=fund, action="unfreeze")
    assert r.status_code == 201 and r.json()["amount_fen"] == free - 500, r.text
    refused(
        control(c, hun, case_id=hcase, asset_id=fund, action="deduct", amount_fen=1), "not_frozen"
    )
    # exceeds_claim: a claim of 1,000 fen; the test world lets courts freeze half as much
    # again (1,500 fen), across all the case's assets together
    small = open_case(c, hun, server.debtor(), 1_000)
    fund2 = find(c, hun, small, "central", "provident_fund")["asset_id"]
    bank2 = find(c, hun, small, "central", "bank_deposit")["asset_id"]
    over = control(c, hun, case_id=small, asset_id=fund2, action="freeze", amount_fen=1_501)
    refused(over, "exceeds_claim")
    r = control(c, hun, case_id=small, asset_id=fund2, action="freeze")  # the default: all
    assert r.status_code == 201 and r.json()["held_fen"] == 1_500, r.text
    refused(control(c, hun, case_id=small, asset_id=bank2, action="freeze"), "exceeds_claim")
    r = control(c, hun, case_id=small, asset_id=fund2, action="deduct", amount_fen=600)
    assert r.status_code == 201 and r.json()["recovered_fen"] == 600, r.text
    r = control(c, hun, case_id=small, asset_id=fund2, action="deduct", amount_fen=401)
    refused(r, "exceeds_claim")

    # freeze_expired: a Chongqing provident-fund freeze lasts 0.73 simulated days (1.5 s)
    debtor = server.debtor("chongqing")
    lapse = open_case(c, hun, debtor, BIG_CLAIM)
    fund3 = find(c, hun, lapse, "central", "provident_fund")["asset_id"]
    r = control(c, hun, case_id=lapse, asset_id=fund3, action="freeze")
    assert r.status_code == 201, r.text
    time.sleep(0.73 * TIME_SCALE + 0.2)
    refused(
        control(c, hun, case_id=lapse, asset_id=fund3, action="deduct", amount_fen=100),
        "freeze_expired",
    )
    refused(control(c, hun, case_id=lapse, asset_id=fund3, action="renew"), "freeze_expired")
    # the lapsed hold went back to the debtor: a new freeze holds it all again
    r = control(c, hun, case_id=lapse, asset_id=fund3, action="freeze")
    assert r.status_code == 201 and r.json()["held_fen"] == free, r.text

    # every refusal is recorded with the case, and nothing leaked
    codes = [x["outcome"] for x in c.get(f"/v1/cases/{hcase}", headers=hun).json()["controls"]]
    assert codes == [
        "not_frozen",
        "not_frozen",
        "insufficient_balance",
        "frozen",
        "already_frozen",
        "insufficient_balance",
        "renewed",
        "frozen",
        "sale_required",
        "unfrozen",
        "not_frozen",
    ]
    assert c.get(f"/v1/cases/{small}", headers=hun).json()["recovered_fen"] == 600
    assert server.reconcile()["ok"]
