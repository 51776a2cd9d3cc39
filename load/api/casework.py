"""Cases and queries: a court opens a case against a debtor and asks the network about it.

A court sees only its own cases and their queries: another court's answers 404, like an id
that does not exist (:func:`case_of`). A query goes to every agency the channel reaches
from the court's region; each agency's timeline and answers are fixed when it is sent and
show up as the scaled clock passes them (:mod:`load.api.agencies`); the query says how far
each agency has got (:mod:`load.api.statuses`).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy import Connection, CursorResult, bindparam, insert, select, update

from load.api import audit
from load.api.agencies import NEVER, HeldAsset
from load.api.errors import ApiError, not_found
from load.api.ledger import balance, court_account, open_account
from load.api.schema import (
    accounts,
    assets,
    cases,
    controls,
    debtors,
    findings,
    queries,
)
from load.api.sql import Stmt, Tx, tx_of
from load.api.statuses import agency_status, control_state, query_status
from load.api.world import Court, World

# Statements built once (bound parameters): SQLAlchemy then reuses their compiled form.
_DEBTOR = select(debtors.c.debtor_id).where(debtors.c.debtor_id == bindparam("debtor_id"))
_NEW_CASE = insert(cases)
CASE_COLUMNS = "case_id, court_id, debtor_id, claim_fen, created_utc"
_CASE = Stmt(f"SELECT {CASE_COLUMNS} FROM cases WHERE case_id = ? AND court_id = ?", CASE_COLUMNS)
_HELD = (
    select(assets.c.asset_id, assets.c.asset_type, assets.c.agency, accounts.c.balance_fen)
    .join(accounts, accounts.c.account_id == "debtor:" + assets.c.asset_id)
    .where(assets.c.debtor_id == bindparam("debtor_id"), assets.c.agency.is_not(None))
    .order_by(assets.c.asset_id)
)
_NEW_QUERY = insert(queries)
_ANSWERED_AT = (
    update(queries)
    .where(queries.c.query_id == bindparam("qid"))
    .values(answer_at_sim=bindparam("answer_at"), agencies=bindparam("agencies"))
)
_NEW_FINDINGS = insert(findings)
# a query's answers: two statements on the DBAPI cursor (load.api.sql), the hottest read
_QUERY = Stmt(
    """SELECT q.case_id, q.channel, q.sent_sim, q.answer_at_sim, q.agencies FROM queries q
       JOIN cases c ON c.case_id = q.case_id WHERE q.query_id = ? AND c.court_id = ?""",
    "case_id, channel, sent_sim, answer_at_sim, agencies",
)
_FOUND = Stmt(
    """SELECT f.asset_id, a.asset_type, f.agency, f.channel, f.balance_fen FROM findings f
       JOIN assets a ON a.asset_id = f.asset_id
       WHERE f.query_id = ? AND f.answer_at_sim <= ? ORDER BY f.asset_id"""
)
_FINDING_KEYS = ("asset_id", "asset_type", "agency", "channel", "balance_fen")
# the assets of a case with something due on them (agencies' acts, lapses)
_DUE_ASSETS = Stmt(
    """SELECT asset_id FROM controls WHERE case_id = ?
       AND ((NOT acted AND act_sim <= ?) OR (NOT duplicate_seen AND duplicate_sim <= ?))
       UNION SELECT asset_id FROM freezes WHERE case_id = ?
       AND ((status = 'active' AND expires_sim <= ?)
            OR (status = 'waiting' AND external_release_sim <= ?))"""
)
_CONTROLS = (
    select(controls)
    .where(controls.c.case_id == bindparam("case_id"))
    .order_by(controls.c.control_id)
)
_QUERY_IDS = (
    select(queries.c.query_id)
    .where(queries.c.case_id == bindparam("case_id"))
    .order_by(queries.c.query_id)
)


def create_case(conn: Connection, court: Court, debtor_id: str, claim_fen: int) -> int:
    exists = conn.execute(_DEBTOR, {"debtor_id": debtor_id}).first()
    if exists is None:
        raise not_found("debtor", debtor_id)
    new = {
        "court_id": court.court_id,
        "debtor_id": debtor_id,
        "claim_fen": claim_fen,
        "created_utc": audit.utc_now(),
    }
    case_id = _inserted_id(conn.execute(_NEW_CASE, new))
    open_account(conn, court_account(case_id), "court", case_id)
    return int(case_id)


def _inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def case_of(conn: Connection | Tx, court: Court, case_id: int) -> Any:
    """The court's own case; another court's case is 'not found', like one that is not."""
    row = tx_of(conn).one(_CASE, (case_id, court.court_id))
    if row is None:
        raise not_found("case", case_id)
    return row


def send_query(conn: Connection, world: World, court: Court, case_id: int, channel: str) -> int:
    """Send a query over ``channel``; its answers arrive on the scaled clock."""
    case = case_of(conn, court, case_id)
    if not world.agencies.covers(court.region, channel):
        raise ApiError(
            409,
            "channel_unavailable",
            f"the {channel} channel reaches no agency from region {court.region}",
        )
    held = [
        HeldAsset(r.asset_id, r.asset_type, r.agency, r.balance_fen)
        for r in conn.execute(_HELD, {"debtor_id": case.debtor_id})
    ]
    now = world.clock.now()
    new_query = {
        "case_id": case_id,
        "channel": channel,
        "sent_sim": now,
        "answer_at_sim": now,
        "agencies": "[]",
    }
    query_id = _inserted_id(conn.execute(_NEW_QUERY, new_query))
    answers = world.agencies.answer(court.region, channel, query_id, now, held)
    agencies = [[a, r.pickup, r.reply, r.deadline] for a, r in sorted(answers.replies.items())]
    timeline = {"qid": query_id, "answer_at": answers.answer_at, "agencies": json.dumps(agencies)}
    conn.execute(_ANSWERED_AT, timeline)
    if answers.findings:
        conn.execute(
            _NEW_FINDINGS,
            [
                {
                    "query_id": query_id,
                    "asset_id": f.asset_id,
                    "case_id": case_id,
                    "agency": f.agency,
                    "channel": f.channel,
                    "answer_at_sim": f.answer_at,
                    "balance_fen": f.balance_fen,
                    "wrong": f.wrong,
                    "online_freeze": f.online_freeze,
                    "online_deduct": f.online_deduct,
                }
                for f in answers.findings
            ],
        )
    return query_id


def read_query(conn: Connection | Tx, world: World, court: Court, query_id: int) -> dict[str, Any]:
    tx = tx_of(conn)
    row = tx.one(_QUERY, (query_id, court.court_id))
    if row is None:
        raise not_found("query", query_id)
    now = world.clock.now()
    found = tx.all(_FOUND, (query_id, now))
    timeline, settled, final = _agencies(row.agencies)
    if now >= settled:  # nothing changes any more: the view worked out once
        agencies, status = final
    else:
        agencies = [
            {"agency": agency, "status": agency_status(pickup, reply, deadline, now)}
            for agency, pickup, reply, deadline in timeline
        ]
        status = query_status([a["status"] for a in agencies])
    return {
        "query_id": query_id,
        "case_id": row.case_id,
        "channel": row.channel,
        "sent_at": world.clock.iso(row.sent_sim),
        "status": status,
        "agencies": agencies,
        "findings": [dict(zip(_FINDING_KEYS, r, strict=True)) for r in found],
    }


@functools.lru_cache(maxsize=8192)
def _agencies(text: str) -> tuple[list[Any], float, tuple[list[dict[str, str]], str]]:
    """A query's agencies (as stored), the moment after which their statuses no longer
    change, and the view from then on (worked out once per query: it is read often)."""
    timeline = json.loads(text)
    settled = max(
        (
            max(t for t in (pickup, reply, deadline) if t is not None)
            for _, pickup, reply, deadline in timeline
        ),
        default=0.0,
    )
    settled = min(settled, NEVER)
    final = [
        {"agency": agency, "status": agency_status(pickup, reply, deadline, settled)}
        for agency, pickup, reply, deadline in timeline
    ]
    return timeline, settled, (final, query_status([a["status"] for a in final]))


def due_assets(tx: Tx, court: Court, case_id: int, now: float) -> list[str]:
    """The court's case's assets with something due on them (empty for another court's)."""
    case_of(tx, court, case_id)
    params = (case_id, now, now, case_id, now, now)
    return sorted({str(r[0]) for r in tx.all(_DUE_ASSETS, params)})


def read_case(
    conn: Connection, world: World, court: Court, case_id: int, now: float
) -> dict[str, Any]:
    """The case as it stands at ``now`` (its assets brought up to ``now``)."""
    case = case_of(conn, court, case_id)
    recovered = balance(conn, court_account(case_id))
    rows = conn.execute(_CONTROLS, {"case_id": case_id})
    query_ids = conn.execute(_QUERY_IDS, {"case_id": case_id}).scalars()
    return {
        "case_id": case_id,
        "court_id": case.court_id,
        "debtor_id": case.debtor_id,
        "claim_fen": case.claim_fen,
        "recovered_fen": recovered,
        "created_at": case.created_utc,
        "queries": list(query_ids),
        "controls": [_control(world, r, now) for r in rows],
    }


def _control(world: World, r: Any, now: float) -> dict[str, Any]:
    return {
        "control_id": r.control_id,
        "asset_id": r.asset_id,
        "action": r.action,
        **control_state(r, now),
        "freeze_id": r.freeze_id,
        "sim_time": world.clock.iso(r.sim_time),
    }
