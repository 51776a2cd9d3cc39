"""The FastAPI application: routes, error answers, OpenAPI, and the work behind them.

``create_app()`` is the factory uvicorn's workers call (``--workers N`` needs an import
string): it opens the database named by ``CHAKONG_API_DB`` and the state folder named by
``CHAKONG_API_STATE`` (the audit key, checkpoints, the shared clock: :mod:`load.api.state`),
reads the world, and returns the application behind the limits on bodies.

Reads run on the event loop (short, never waiting for a lock: WAL readers and PostgreSQL
MVCC do not block); writes run in the database's writer threads (or on the loop when
SQLite's write lock is free at once: :meth:`load.api.db.Database.write_async`). Every
answer is JSON; every error is ``{"code", "detail"}`` with a 4xx status for anything a
client did wrong. Once a second each worker writes the refused requests it counted to the
audit log (:mod:`load.api.denials`) and a signed checkpoint of the audit chains to the
state folder (:mod:`load.api.checkpoint`); again when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, FastAPI, Header, Path
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from load.api import admin, casework, controls, models, paths
from load.api.auth import AdminOnly, Auth, CourtOf
from load.api.body import BODY_SECONDS, BodyLimit
from load.api.checkpoint import CheckpointFile
from load.api.contract import (
    AUTH,
    CHECKPOINT,
    CREATED_CASE,
    CREATED_CONTROL,
    CREATED_QUERY,
    DESCRIPTION,
    READ,
    WRITE,
)
from load.api.db import Database
from load.api.denials import FLUSH_SECONDS, Denials
from load.api.errors import not_found
from load.api.fastpath import FastPath
from load.api.handlers import Answers
from load.api.metrics import Metrics, MetricsMiddleware
from load.api.reconcile import reconcile
from load.api.routing import AdminRoute, ApiRoute, CourtRoute
from load.api.sql import Tx
from load.api.state import SharedClock, StateDir
from load.api.world import Court, World

T = TypeVar("T")
DB_ENV = "CHAKONG_API_DB"
FAST_PATH_ENV = "CHAKONG_API_FAST_PATH"  # "0": every request through the routes (tests)
BODY_SECONDS_ENV = "CHAKONG_API_BODY_SECONDS"
log = logging.getLogger("chakong.api")

PathId = Annotated[models.PathId, Path()]
IdempotencyKey = Annotated[models.IdempotencyKey, Header(alias="Idempotency-Key")]


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_response(status: int, body: Any) -> Response:
    return Response(_ENCODE(body), status_code=status, media_type="application/json")


def create_app(
    db_url: str | None = None, fast_path: bool | None = None, state_dir: str | None = None
) -> BodyLimit:
    """The application on the database ``db_url`` (default: ``$CHAKONG_API_DB``) and the
    state folder ``state_dir`` (default: ``$CHAKONG_API_STATE``), with the fast path for the
    two hot requests unless ``fast_path`` (default: ``$CHAKONG_API_FAST_PATH`` is not ``0``)
    is false."""
    db = Database(db_url or os.environ[DB_ENV])
    state = StateDir(state_dir) if state_dir is not None else StateDir.from_env()
    shared = SharedClock(state.clock_file)
    world = World.load(db, state.key(), offset=shared.get)
    kept = CheckpointFile(state.checkpoint_file)
    metrics = Metrics()
    denials = Denials(world)
    if fast_path is None:
        fast_path = os.environ.get(FAST_PATH_ENV, "1") != "0"

    def seal() -> None:
        """Write the refusals counted so far, then a checkpoint of the audit chains."""
        denials.flush()
        kept.write(db.snapshot(lambda c: admin.checkpoint_now(c, world)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def every_second() -> None:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                try:
                    await run_in_threadpool(seal)
                except Exception:  # the database is busy or gone: next time
                    log.warning("could not write the audit's refusals or checkpoint", exc_info=True)

        task = asyncio.create_task(every_second())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):
                await run_in_threadpool(seal)
            db.dispose()
            shared.close()

    app = FastAPI(
        title="chakong query-and-control API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,  # served by the routes below, named like every other route
        docs_url=None,
        redoc_url=None,
    )
    app.state.world = world
    app.router.route_class = ApiRoute
    courts = APIRouter(route_class=CourtRoute)
    admins = APIRouter(route_class=AdminRoute)
    auth = app.state.auth = Auth(world)
    answers = Answers(denials)
    answers.install(app)

    async def write_sa(fn: Callable[[Connection], T]) -> T:
        """:meth:`Database.write` (SQLAlchemy statements) in the database's writer threads."""
        return await asyncio.get_running_loop().run_in_executor(db.writers, db.write, fn)

    async def serve_query(court: Court, query_id: int) -> Response:
        return json_response(
            200, db.read_tx(lambda tx: casework.read_query(tx, world, court, query_id))
        )

    async def serve_control(court: Court, key: str, body: models.Control) -> Response:
        amount = getattr(body, "amount_fen", None)
        req = controls.ControlRequest(body.case_id, body.asset_id, body.action, amount)
        status, text, outcome = await db.write_async(
            lambda tx: controls.submit(tx, world, court, key, req)
        )
        if outcome is not None:
            metrics.controls.labels(body.action, outcome).inc()
        return Response(text, status_code=status, media_type="application/json")

    async def up_to_date(asset_ids: list[str], now: float) -> None:
        """Bring assets up to ``now`` (agencies' acts, lapses) before they are read at ``now``:
        a view read at a later instant could show a status whose act is not yet carried out."""
        for asset_id in asset_ids:

            def settle(tx: Tx, asset_id: str = asset_id) -> None:
                controls.bring_up_to_date(tx, world, asset_id, now)

            await db.write_async(settle)

    # the last added is the outermost: metrics see the fast path's answers too
    if fast_path:
        app.add_middleware(
            FastPath, auth=auth, answers=answers, query=serve_query, control=serve_control
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get(paths.HEALTH, response_model=models.Health, tags=["service"])
    async def healthz() -> Response:
        return json_response(200, {"status": "ok", "sim_time": world.clock.iso(world.clock.now())})

    @app.get(
        paths.METRICS,
        tags=["service"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.get(paths.OPENAPI, include_in_schema=False)
    async def openapi() -> Response:
        return JSONResponse(app.openapi())

    @app.get(paths.DOCS, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=paths.OPENAPI, title=f"{app.title} - Swagger UI")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=paths.OPENAPI, title=f"{app.title} - ReDoc")

    @courts.post(
        paths.CASES,
        status_code=201,
        response_model=models.CaseCreated,
        responses=CREATED_CASE,
        tags=["cases"],
        operation_id="createCase",
    )
    async def create_case(body: models.CaseCreate, court: CourtOf) -> Response:
        """Open a case against a debtor (a debtor unknown to the network: 404)."""
        case_id = await write_sa(
            lambda c: casework.create_case(c, court, body.debtor_id, body.claim_fen)
        )
        return json_response(201, {"case_id": case_id})

    @courts.get(
        paths.CASE,
        response_model=models.CaseView,
        responses=READ,
        tags=["cases"],
        operation_id="getCase",
    )
    async def get_case(case_id: PathId, court: CourtOf) -> Response:
        """The case, the money it recovered, its queries and every control (refusals too)."""
        now = world.clock.now()
        await up_to_date(db.read_tx(lambda tx: casework.due_assets(tx, court, case_id, now)), now)
        return json_response(
            200, db.read(lambda c: casework.read_case(c, world, court, case_id, now))
        )

    @courts.post(
        paths.QUERIES,
        status_code=202,
        response_model=models.QueryCreated,
        responses=CREATED_QUERY,
        tags=["queries"],
        operation_id="createQuery",
    )
    async def create_query(body: models.QueryCreate, court: CourtOf) -> Response:
        """Ask every agency the channel reaches from the court's region; they answer later."""
        query_id = await write_sa(
            lambda c: casework.send_query(c, world, court, body.case_id, body.channel)
        )
        return json_response(202, {"query_id": query_id})

    @courts.get(
        paths.QUERY,
        response_model=models.QueryView,
        responses=READ,
        tags=["queries"],
        operation_id="getQuery",
    )
    async def get_query(query_id: PathId, court: CourtOf) -> Response:
        """How far each agency has got; findings arrive one by one; ``answered`` once every
        agency has answered (or, in fault mode, been given up on)."""
        return await serve_query(court, query_id)

    @courts.post(
        paths.CONTROLS,
        status_code=201,
        response_model=models.ControlDone,
        responses=CREATED_CONTROL,
        tags=["controls"],
        operation_id="createControl",
    )
    async def create_control(
        body: Annotated[models.ControlCreate, Body()],
        court: CourtOf,
        idempotency_key: IdempotencyKey,
    ) -> Response:
        """Freeze, renew, unfreeze or deduct an asset the case has found: done at once (201)
        or handed to the agency (202). A refusal (409) is recorded too, and replayed under
        its key like a success."""
        return await serve_control(court, idempotency_key, body)

    @courts.get(
        paths.CONTROL,
        response_model=models.ControlState,
        responses=READ,
        tags=["controls"],
        operation_id="getControl",
    )
    async def get_control(control_id: PathId, court: CourtOf) -> Response:
        """The control as it stands: accepted, processing, done, failed, unknown, refused."""
        asset = db.read_tx(lambda tx: controls.asset_of(tx, court, control_id))
        if asset is None:
            raise not_found("control", control_id)
        now = world.clock.now()  # one instant: settled to it, and viewed at it
        if db.read_tx(lambda tx: controls.due(tx, asset, now)):
            await up_to_date([asset], now)
        return json_response(
            200, db.read_tx(lambda tx: controls.view(tx, world, court, control_id, now))
        )

    @admins.get(
        paths.RECONCILE,
        response_model=models.ReconcileView,
        responses=AUTH,
        dependencies=[AdminOnly],
        tags=["admin"],
    )
    async def admin_reconcile() -> Response:
        """Money conserved to the fen, per account and per case; every journal entry
        checked against its cause; no cap exceeded; no deduction outside a freeze."""
        result = await run_in_threadpool(db.snapshot, lambda c: reconcile(c, world))
        return json_response(200, result)

    @admins.get(
        paths.AUDIT_VERIFY,
        response_model=models.AuditVerifyView,
        responses=AUTH,
        dependencies=[AdminOnly],
        tags=["admin"],
    )
    async def admin_audit_verify() -> Response:
        """Recompute the audit chains with the audit key and hold them against the server's
        latest checkpoint (kept outside the database)."""
        result = await run_in_threadpool(db.snapshot, lambda c: admin.verify_audit(c, world, kept))
        return json_response(200, result)

    @admins.post(
        paths.AUDIT_VERIFY,
        response_model=models.AuditVerifyView,
        responses=WRITE,
        dependencies=[AdminOnly],
        tags=["admin"],
        operation_id="verifyAuditAgainst",
    )
    async def admin_audit_verify_against(body: models.Checkpoint) -> Response:
        """The same, held against a checkpoint an auditor kept (as the GET of
        ``/v1/admin/audit/checkpoint`` gave it)."""
        given = body.model_dump(mode="json")
        result = await run_in_threadpool(
            db.snapshot, lambda c: admin.verify_audit(c, world, kept, given)
        )
        return json_response(200, result)

    @admins.get(
        paths.AUDIT_CHECKPOINT,
        response_model=models.Checkpoint,
        responses=CHECKPOINT,
        dependencies=[AdminOnly],
        tags=["admin"],
        operation_id="getCheckpoint",
    )
    async def admin_audit_checkpoint() -> Response:
        """The audit chains' heads now, signed: keep it, and verify against it later."""
        return json_response(200, db.snapshot(lambda c: admin.checkpoint_now(c, world)))

    @admins.post(
        paths.CLOCK,
        response_model=models.ClockView,
        responses=WRITE,
        dependencies=[AdminOnly],
        tags=["admin"],
    )
    async def admin_clock(body: models.ClockAdvance) -> Response:
        """Move the simulated clock forward by ``days`` (never back), for every worker."""
        offset = await write_sa(lambda c: admin.advance_clock(c, world, body.days))
        shared.set(offset)
        return json_response(
            200, {"sim_time": world.clock.iso(world.clock.now()), "offset_days": offset}
        )

    app.include_router(courts)
    app.include_router(admins)
    seconds = float(os.environ.get(BODY_SECONDS_ENV, BODY_SECONDS))
    return BodyLimit(app, seconds=seconds)
