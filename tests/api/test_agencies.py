"""Agencies as the real network has them (``[api] controls = "scenario"``), on real servers
(SQLite and PostgreSQL, two workers): a control is accepted, processed and ends done or
failed with the agency's reason, on the scaled clock; a freeze waits in line (轮候) behind
another authority's or another case's and takes effect when the earlier one is released;
in fault mode an answer that is lost leaves the control ``unknown`` (never ``failed``), and
a retry with its key asks again and never acts twice; money reconciles at every step.

And with the default (``controls = "instant"``) a freeze behind another case's waits in line
too, and takes effect when the earlier one is unfrozen or lapses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from load.api.db import Database
from tests.api.support import PgDatabases, Server, control, find, open_case

BIG_CLAIM = 10**12
SCENARIO_MODE = [
    "api.controls=scenario",
    'channels.central.control_latency_days={kind="constant",value=0.5}',  # 1 s
    "debtors.assets.vehicle.hold_probability=1",
    "freeze.hard.failure_probability.vehicle=1",  # the vehicle office always fails
    "freeze.waiting.probability.real_estate=1",  # another authority froze it first
    'freeze.waiting.release_days={kind="constant",value=1}',  # and releases it a day later
    'freeze.waiting.remaining_share={kind="constant",value=0.5}',  # having taken half
]
LOST = ["api.faults.lost_reply_probability=0.5", "api.faults.deadline_days=1"]

pytestmark = pytest.mark.slow  # real servers, many requests: the default run, not the quick loop


def backend(request: pytest.FixtureRequest, pg: PgDatabases, tmp: Any) -> str:
    return f"sqlite:///{tmp / 'api.sqlite3'}" if request.param == "sqlite" else pg.new()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def timed(
    request: pytest.FixtureRequest, pg: PgDatabases, tmp_path_factory: Any
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("timed")
    srv = Server(tmp, backend(request, pg, tmp), workers=2, extra=SCENARIO_MODE)
    try:
        yield srv
        assert srv.reconcile()["ok"]
        assert srv.audit()["ok"]
    finally:
        srv.stop()


def state(c: httpx.Client, h: dict[str, str], control_id: int) -> dict[str, Any]:
    r = c.get(f"/v1/controls/{control_id}", headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_for(
    c: httpx.Client, h: dict[str, str], control_id: int, *statuses: str, within: float = 15
) -> dict[str, Any]:
    seen = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        now = state(c, h, control_id)
        if not seen or seen[-1] != now["status"]:
            seen.append(now["status"])
        if now["status"] in statuses:
            return now
        time.sleep(0.05)
    raise AssertionError(f"control {control_id} never {statuses}; went {seen}")


def accepted(r: httpx.Response) -> int:
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "accepted"
    return int(body["control_id"])


def freeze_found(
    srv: Server, c: httpx.Client, h: dict[str, str], kind: str
) -> tuple[int, dict[str, Any], int]:
    """A new Hunan case, its asset of this kind found through the central channel, and the
    id of a freeze of it that the agency accepted."""
    case = open_case(c, h, srv.debtor("hunan"), BIG_CLAIM)
    asset = find(c, h, case, "central", kind)
    return case, asset, send_freeze(c, h, case, asset["asset_id"])


def send_freeze(c: httpx.Client, h: dict[str, str], case: int, asset_id: str) -> int:
    """The id of a freeze of the asset for the case that the agency accepted."""
    return accepted(control(c, h, case_id=case, asset_id=asset_id, action="freeze"))


def test_a_control_is_accepted_processed_and_done_on_the_clock(timed: Server) -> None:
    _, h = timed.court("hunan")
    with timed.client() as c:
        case, bank, freeze = freeze_found(timed, c, h, "bank_deposit")
        # nothing else on the asset until the agency has acted (it acts 1 s after the
        # freeze was accepted: ask at once, before anything slower such as a reconcile)
        again = control(c, h, case_id=case, asset_id=bank["asset_id"], action="renew")
        early = state(c, h, freeze)
        assert early["status"] in ("accepted", "processing") and early["outcome"] is None
        assert again.status_code == 409 and again.json()["code"] == "control_pending"
        reconciled = timed.reconcile()
        assert reconciled["ok"]
        if state(c, h, freeze)["outcome"] is None:  # pending before and after: during too
            assert reconciled["pending_fen"] >= bank["balance_fen"]
        done = wait_for(c, h, freeze, "done")
        assert (done["outcome"], done["held_fen"]) == ("frozen", bank["balance_fen"])
        assert done["amount_fen"] == bank["balance_fen"] and done["expires_at"]

        deduct = control(
            c, h, case_id=case, asset_id=bank["asset_id"], action="deduct", amount_fen=1234
        )
        taken = wait_for(c, h, accepted(deduct), "done")
        assert (taken["outcome"], taken["amount_fen"]) == ("deducted", 1234)
        view = c.get(f"/v1/cases/{case}", headers=h).json()
        assert view["recovered_fen"] == 1234
        assert [(x["action"], x["status"]) for x in view["controls"]] == [
            ("freeze", "done"),
            ("renew", "refused"),
            ("deduct", "done"),
        ]
    assert timed.reconcile()["ok"]


def test_an_agency_that_fails_says_why_and_gives_the_money_back(timed: Server) -> None:
    _, h = timed.court("hunan")
    with timed.client() as c:
        case, car, freeze = freeze_found(timed, c, h, "vehicle")
        failed = wait_for(c, h, freeze, "failed")
        assert (failed["outcome"], failed["held_fen"]) == ("agency_failed", 0)
        # the money is the debtor's again: a new freeze may try (and the office fails again)
        again = send_freeze(c, h, case, car["asset_id"])
        assert wait_for(c, h, again, "failed")["outcome"] == "agency_failed"
    assert timed.reconcile()["ok"]


def test_a_freeze_behind_another_authority_takes_effect_when_it_is_released(
    timed: Server,
) -> None:
    _, h = timed.court("hunan")
    with timed.client() as c:
        _, house, freeze = freeze_found(timed, c, h, "real_estate")
        waiting = wait_for(c, h, freeze, "done")
        assert (waiting["outcome"], waiting["held_fen"]) == ("waiting", 0)
        assert timed.reconcile()["other_fen"] >= house["balance_fen"]  # the other holds it
        deadline = time.monotonic() + 10
        while state(c, h, freeze)["held_fen"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        # released a simulated day later, having taken half: ours holds the other half
        assert state(c, h, freeze)["held_fen"] == round(house["balance_fen"] * 0.5)
    assert timed.reconcile()["ok"]


def test_a_freeze_behind_another_case_waits_then_holds(timed: Server) -> None:
    """Two cases against one debtor: the second's freeze of the same account waits in line
    and takes effect when the first is unfrozen (the agency carries out both)."""
    _, h = timed.court("hunan")
    debtor = timed.debtor("hunan")
    with timed.client() as c:
        first, second = (open_case(c, h, debtor, BIG_CLAIM) for _ in range(2))
        bank = find(c, h, first, "central", "bank_deposit")["asset_id"]
        find(c, h, second, "central", "bank_deposit")
        f1 = send_freeze(c, h, first, bank)
        held = wait_for(c, h, f1, "done")["held_fen"]
        f2 = send_freeze(c, h, second, bank)
        assert (wait_for(c, h, f2, "done")["outcome"], state(c, h, f2)["held_fen"]) == (
            "waiting",
            0,
        )
        r = control(c, h, case_id=second, asset_id=bank, action="deduct", amount_fen=1)
        assert r.status_code == 409 and r.json()["code"] == "insufficient_balance", r.text
        release = accepted(control(c, h, case_id=first, asset_id=bank, action="unfreeze"))
        assert wait_for(c, h, release, "done")["outcome"] == "unfrozen"
        assert state(c, h, f2)["held_fen"] == held
    assert timed.reconcile()["ok"]


# ---------------------------------------------------------------- fault mode


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def lossy(
    request: pytest.FixtureRequest, pg: PgDatabases, tmp_path_factory: Any
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("lossy")
    srv = Server(tmp, backend(request, pg, tmp), workers=2, extra=[*SCENARIO_MODE, *LOST])
    try:
        yield srv
    finally:
        srv.stop()


def found_bank(srv: Server, c: httpx.Client, h: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A case whose bank answered its query (half the answers are lost here); the draws
    are keyed by the seed, so it is the same case on every run."""
    for _ in range(12):
        case = open_case(c, h, srv.debtor("hunan"), BIG_CLAIM)
        try:
            return case, find(c, h, case, "central", "bank_deposit")
        except AssertionError as lost:  # answered (given up on) without the bank's answer
            assert "'agency': 'bank', 'status': 'unknown'" in str(lost), lost
    raise AssertionError("no bank answered in 12 queries")


def test_a_lost_answer_is_unknown_and_a_retry_asks_again_without_acting_twice(
    lossy: Server,
) -> None:
    _, h = lossy.court("hunan")
    with lossy.client() as c:
        for _ in range(12):
            case, bank = found_bank(lossy, c, h)
            body = {"case_id": case, "asset_id": bank["asset_id"], "action": "freeze"}
            first = control(c, h, key=f"lost-{case}", **body)
            freeze = accepted(first)
            # the agency acts after 1 s; the API waits for its answer 1 day (2 s) after
            # the agency picked the request up
            ended = wait_for(c, h, freeze, "unknown", "failed", "done")
            if ended["status"] == "unknown":
                break
            assert ended["status"] == "done"  # this answer arrived: try another
        else:
            raise AssertionError("no answer was lost in 12 controls")
        assert ended["outcome"] is None
        for _ in range(5):  # never failed while nobody asks
            assert state(c, h, freeze)["status"] == "unknown"
            time.sleep(0.1)
        # the money moved once, whatever the API knew
        assert lossy.reconcile()["frozen_fen"] >= bank["balance_fen"]
        # a retry with the same key: the same reply, and the API asks the agency again
        retry = control(c, h, key=f"lost-{case}", **body)
        assert (retry.status_code, retry.content) == (first.status_code, first.content)
        done = wait_for(c, h, freeze, "done")
        assert (done["outcome"], done["held_fen"]) == ("frozen", bank["balance_fen"])
        for _ in range(3):
            control(c, h, key=f"lost-{case}", **body)
        view = c.get(f"/v1/cases/{case}", headers=h).json()
        assert [x["action"] for x in view["controls"]] == ["freeze"]
    result = lossy.reconcile()
    assert result["ok"], result
    assert lossy.audit()["ok"]


# ---------------------------------------------------------------- instant mode


@pytest.fixture(scope="module", params=["sqlite"])
def instant(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("instant")
    srv = Server(tmp, f"sqlite:///{tmp / 'api.sqlite3'}")
    try:
        yield srv
    finally:
        srv.stop()


def test_instant_freezes_wait_in_line_and_take_effect_on_release_or_lapse(
    instant: Server,
) -> None:
    _, h = instant.court("hunan")
    debtor = instant.debtor("hunan")
    with instant.client() as c:
        first, second, third = (open_case(c, h, debtor, BIG_CLAIM) for _ in range(3))
        bank = find(c, h, first, "central", "bank_deposit")["asset_id"]
        for case in (second, third):
            find(c, h, case, "central", "bank_deposit")
        r = control(c, h, case_id=first, asset_id=bank, action="freeze")
        assert r.status_code == 201 and r.json()["outcome"] == "frozen", r.text
        held = r.json()["held_fen"]
        r = control(c, h, case_id=second, asset_id=bank, action="freeze")
        assert r.status_code == 201, r.text
        assert (r.json()["outcome"], r.json()["held_fen"]) == ("waiting", 0)
        waiting = r.json()["control_id"]
        r = control(c, h, case_id=first, asset_id=bank, action="unfreeze")
        assert r.status_code == 201 and r.json()["amount_fen"] == held, r.text
        assert state(c, h, waiting)["held_fen"] == held

        # behind a freeze that lapses: Chongqing's provident-fund freezes last 0.73 days
        debtor = instant.debtor("chongqing")
        a, b = (open_case(c, h, debtor, BIG_CLAIM) for _ in range(2))
        fund = find(c, h, a, "central", "provident_fund")["asset_id"]
        find(c, h, b, "central", "provident_fund")
        assert control(c, h, case_id=a, asset_id=fund, action="freeze").status_code == 201
        r = control(c, h, case_id=b, asset_id=fund, action="freeze")
        assert r.json()["outcome"] == "waiting", r.text
        behind = r.json()["control_id"]
        time.sleep(0.73 * 2 + 0.3)
        assert state(c, h, behind)["held_fen"] == 200_000 * 100
    assert instant.reconcile()["ok"]


def test_an_answer_sent_twice_is_recorded_and_acts_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    twice = [*SCENARIO_MODE, "api.faults.duplicate_reply_probability=1"]
    srv = Server(tmp_path, url, extra=twice)
    try:
        _, h = srv.court("hunan")
        with srv.client() as c:
            case = open_case(c, h, srv.debtor("hunan"), BIG_CLAIM)
            bank = find(c, h, case, "central", "bank_deposit")
            body = {"case_id": case, "asset_id": bank["asset_id"], "action": "freeze"}
            freeze = accepted(control(c, h, **body))
            assert wait_for(c, h, freeze, "done")["held_fen"] == bank["balance_fen"]
            time.sleep(0.1)  # the second copy arrives a hundredth of a day (0.02 s) later
            assert state(c, h, freeze)["held_fen"] == bank["balance_fen"]
        db = Database(url, pool_size=1)
        try:
            seen = db.read(
                lambda conn: conn.execute(
                    text("SELECT count(*) FROM audit WHERE outcome = 'duplicate_ignored'")
                ).scalar_one()
            )
        finally:
            db.dispose()
        assert seen >= 1
        reconciled = srv.reconcile()
        assert reconciled["ok"] and reconciled["journal_entries"] == 2, (
            reconciled
        )  # reserve, settle
    finally:
        srv.stop()
