"""The ledger under threads, straight on the database (SQLite and PostgreSQL): the cap holds
when a control is decided and applied in one locked transaction, and the same test fails
for a deliberately naive check-then-write variant built here from the same two halves.
Reconcile catches money created from nothing, and money moved outside any control."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from threading import Barrier
from typing import Any

import pytest
from sqlalchemy import select, update

from load.api import casework, controls, effects
from load.api.audit import Batch
from load.api.db import Database
from load.api.fixtures import create_world
from load.api.ledger import Cause, move
from load.api.reconcile import reconcile
from load.api.schema import accounts, assets
from load.api.world import Court, World
from sim.scenario import load_scenario
from tests.api.support import CAP_FEN, TEST_SETTINGS, PgDatabases, all_at_once, check_cap
from tests.conftest import BASELINE

STEP = 100_000  # fen per deduction: the cap allows exactly 50 of 64


@pytest.fixture(params=["sqlite", "postgresql"])
def new_world(request: pytest.FixtureRequest, pg: PgDatabases, tmp_path: Path) -> Any:
    """A factory of fresh worlds on the backend, their clocks stopped at day 10."""
    made: list[Database] = []

    def make() -> World:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:6]}.sqlite3'}"
        else:
            url = pg.new()
        db = Database(url, pool_size=8)
        made.append(db)
        scenario = load_scenario(BASELINE, TEST_SETTINGS).scenario
        create_world(db, scenario, seed=11)
        world = World.load(db, b"a test key")
        world.clock.now = lambda: 10.0  # type: ignore[method-assign]
        return world

    yield make
    for db in made:
        db.dispose()


def fund_frozen(world: World) -> tuple[Court, controls.ControlRequest]:
    """A Hunan case that found and froze a whole provident fund; a deduction request on it."""
    court = Court("hunan-1", "hunan")
    db = world.db
    debtor = db.read(lambda c: c.exec_driver_sql("SELECT min(debtor_id) FROM debtors").scalar())
    case = db.write(lambda c: casework.create_case(c, court, debtor, 10**12))
    db.write(lambda c: casework.send_query(c, world, court, case, "central"))
    world.clock.now = lambda: 12.0  # type: ignore[method-assign]  # two days on: answered
    fund = db.read(
        lambda c: c.execute(
            select(assets.c.asset_id).where(
                assets.c.debtor_id == debtor, assets.c.asset_type == "provident_fund"
            )
        ).scalar_one()
    )
    freeze = controls.ControlRequest(case, fund, "freeze")
    status, body, _ = db.write_tx(lambda tx: controls.submit(tx, world, court, "freeze", freeze))
    assert status == 201, body
    assert json.loads(body)["held_fen"] == 200_000 * 100
    return court, controls.ControlRequest(case, fund, "deduct", STEP)


def locked(world: World, court: Court, req: controls.ControlRequest) -> Any:
    """The real thing: decide and apply in one write transaction (what the route runs)."""

    def one(i: int) -> tuple[int, dict[str, Any]]:
        status, body, _ = world.db.write_tx(
            lambda tx: controls.submit(tx, world, court, f"k{i}", req)
        )
        return status, json.loads(body)

    return one


def naive(world: World, court: Court, req: controls.ControlRequest, threads: int) -> Any:
    """Check, then write: the decision in one transaction, its effects in the next. Every
    thread decides before any writes (a barrier between the two), so the race the locked
    variant closes happens every time, however the threads are scheduled."""
    decided = Barrier(threads)

    def one(i: int) -> tuple[int, dict[str, Any]]:
        def check(tx: Any) -> tuple[controls.Decision, Any]:
            case, asset, now = controls.prepare(tx, world, court, req, Batch())
            return controls.decide(tx, world, court, case, asset, req, now), asset

        decision, asset = world.db.write_tx(check)
        decided.wait()

        def apply(tx: Any) -> tuple[int, dict[str, Any]]:
            batch = Batch()
            reply = effects.record(tx, world, court, req, decision, asset, batch)
            batch.write(tx, world.audit_key)
            return reply

        return world.db.write_tx(apply)

    return one


def test_the_cap_holds_under_64_threads_and_check_then_write_breaks_it(new_world: Any) -> None:
    world = new_world()
    court, req = fund_frozen(world)
    replies = all_at_once(64, locked(world, court, req))
    check_cap(replies, CAP_FEN)
    assert sum(s == 201 for s, _ in replies) == CAP_FEN // STEP
    assert world.db.snapshot(lambda c: reconcile(c, world))["ok"]

    # the same test, with teeth: the naive variant lets more than the cap through
    world = new_world()
    court, req = fund_frozen(world)
    replies = all_at_once(64, naive(world, court, req, 64))
    with pytest.raises(AssertionError, match="deducted in 2023"):
        check_cap(replies, CAP_FEN)
    result = world.db.snapshot(lambda c: reconcile(c, world))
    assert not result["ok"]
    assert any("cap" in p for p in result["problems"]), result


def test_reconcile_catches_money_made_or_moved_outside_any_control(new_world: Any) -> None:
    world = new_world()
    court, req = fund_frozen(world)
    for i in range(3):
        world.db.write_tx(lambda tx, i=i: controls.submit(tx, world, court, f"t{i}", req))
    db = world.db
    assert db.snapshot(lambda c: reconcile(c, world))["ok"]

    # one fen created out of nothing in a court account
    court_account = f"court:{req.case_id}"
    bal = accounts.c.balance_fen
    db.write(
        lambda c: c.execute(
            update(accounts)
            .where(accounts.c.account_id == court_account)
            .values(balance_fen=bal + 1)
        )
    )
    result = db.snapshot(lambda c: reconcile(c, world))
    assert not result["ok"]
    assert any("not conserved" in p for p in result["problems"])
    assert any(court_account in p for p in result["problems"])

    # 500,000 fen moved from a debtor to the court by a journal entry naming no control:
    # balanced (conserved, and every balance matches the journal), and still caught
    world = new_world()
    court, req = fund_frozen(world)
    debtor = world.db.read(
        lambda c: c.exec_driver_sql(
            "SELECT account_id FROM accounts WHERE kind = 'debtor' AND balance_fen > 50000000"
            " ORDER BY account_id LIMIT 1"
        ).scalar()
    )
    cause = Cause("control", req.case_id)  # no control at all
    world.db.write_tx(lambda tx: move(tx, cause, debtor, f"court:{req.case_id}", 50_000_000, 12.0))
    result = world.db.snapshot(lambda c: reconcile(c, world))
    assert not result["ok"]
    assert any("names no control" in p for p in result["problems"]), result
    assert not any("not conserved" in p for p in result["problems"]), result
