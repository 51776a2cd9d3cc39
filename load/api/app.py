"""The FastAPI application: routes, error answers, OpenAPI.

``create_app()`` is the factory uvicorn's workers call (``--workers N`` needs an import
string): it opens the database named by ``CHAKONG_API_DB``, reads the world from it, and
returns the FastAPI application (``.app``) behind a limit on the body's size.

Reads run on the event loop (short, never waiting for a lock: WAL readers and PostgreSQL
MVCC do not block); writes run in the thread pool, where waiting for the write lock does not
stall other requests. Every answer is JSON; every error is ``{"code", "detail"}`` with a
4xx status for anything a client did wrong.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, FastAPI, Header, Path
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from load.api import audit, casework, controls, models, paths
from load.api.auth import AdminOnly, Auth, CourtOf
from load.api.body import BodyLimit
from load.api.db import Database
from load.api.errors import code_table
from load.api.fastpath import FastPath
from load.api.handlers import Answers
from load.api.metrics import Metrics, MetricsMiddleware
from load.api.reconcile import reconcile
from load.api.routing import AdminRoute, ApiRoute, CourtRoute
from load.api.world import Court, World

T = TypeVar("T")
DB_ENV = "CHAKONG_API_DB"
FAST_PATH_ENV = "CHAKONG_API_FAST_PATH"  # "0": every request through the routes (tests)

DESCRIPTION = f"""\
The chakong reference implementation of the court enforcement query-and-control network
(网络执行查控系统), behaving as its scenario says: agencies answer queries on a scaled clock
after their polling interval, working hours and the channel's latency; the local channel
covers fewer agencies and returns wrong or stale records at the scenario's rates; freezes
last the region's period; provident-fund deductions stop at the region's annual cap.

Money is in integer fen (1 yuan = 100 fen). Authenticate with `Authorization: Bearer TOKEN`
(tokens are in the fixtures file written by `chakong serve --fixtures-out`). The court is
always the token's. Another court's case, query or asset answers 404, exactly as an id that
does not exist.

`POST /v1/controls` needs an `Idempotency-Key` header: the same key with the same body gives
the same reply (byte for byte) and acts once; the same key with another body is refused.

Every error is `{{"code": CODE, "detail": MESSAGE}}`:

{code_table()}
"""

E = models.Error
Responses = dict[int | str, dict[str, Any]]
AUTH: Responses = {
    401: {"model": E, "description": "`unauthenticated`: no valid bearer token"},
    403: {"model": E, "description": "`forbidden`: wrong kind of token for this endpoint"},
}
READ: Responses = {
    **AUTH,
    404: {"model": E, "description": "`not_found` (or another court's)"},
    422: {"model": E, "description": "`invalid_request`: a bad id in the path"},
}
WRITE: Responses = {
    **READ,
    400: {"model": E, "description": "`malformed_json`"},
    413: {"model": E, "description": "`body_too_large`"},
    415: {"model": E, "description": "`unsupported_media_type`: not application/json"},
    422: {"model": E, "description": "`invalid_request`: the body does not match the schema"},
}
PathId = Annotated[models.PathId, Path()]
IdempotencyKey = Annotated[models.IdempotencyKey, Header(alias="Idempotency-Key")]


def json_response(status: int, body: Any) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status,
        media_type="application/json",
    )


def create_app(db_url: str | None = None, fast_path: bool | None = None) -> BodyLimit:
    """The application on the database ``db_url`` (default: ``$CHAKONG_API_DB``), with the
    fast path for the two hot requests unless ``fast_path`` (default: ``$CHAKONG_API_FAST_PATH``
    is not ``0``) is false."""
    db = Database(db_url or os.environ[DB_ENV])
    world = World.load(db)
    metrics = Metrics()
    if fast_path is None:
        fast_path = os.environ.get(FAST_PATH_ENV, "1") != "0"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

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
    admin = APIRouter(route_class=AdminRoute)
    auth = app.state.auth = Auth(world)
    answers = Answers(world)
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
            lambda c: controls.submit(c, world, court, key, req)
        )
        if outcome is not None:
            metrics.controls.labels(body.action, outcome).inc()
        return Response(text, status_code=status, media_type="application/json")

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
        responses=WRITE,
        tags=["cases"],
    )
    async def create_case(body: models.CaseCreate, court: CourtOf) -> Response:
        """Open a case against a debtor (a debtor unknown to the network: 404)."""
        case_id = await write_sa(
            lambda c: casework.create_case(c, court, body.debtor_id, body.claim_fen)
        )
        return json_response(201, {"case_id": case_id})

    @courts.get(paths.CASE, response_model=models.CaseView, responses=READ, tags=["cases"])
    async def get_case(case_id: PathId, court: CourtOf) -> Response:
        """The case, the money it recovered, its queries and every control (refusals too)."""
        return json_response(200, db.read(lambda c: casework.read_case(c, world, court, case_id)))

    @courts.post(
        paths.QUERIES,
        status_code=202,
        response_model=models.QueryCreated,
        responses={**WRITE, 409: {"model": models.Refusal, "description": "`channel_unavailable`"}},
        tags=["queries"],
    )
    async def create_query(body: models.QueryCreate, court: CourtOf) -> Response:
        """Ask every agency the channel reaches from the court's region; they answer later."""
        query_id = await write_sa(
            lambda c: casework.send_query(c, world, court, body.case_id, body.channel)
        )
        return json_response(202, {"query_id": query_id})

    @courts.get(paths.QUERY, response_model=models.QueryView, responses=READ, tags=["queries"])
    async def get_query(query_id: PathId, court: CourtOf) -> Response:
        """``pending`` until the last agency has answered; findings arrive one by one."""
        return await serve_query(court, query_id)

    @courts.post(
        paths.CONTROLS,
        status_code=201,
        response_model=models.ControlDone,
        responses={
            **WRITE,
            409: {"model": models.Refusal, "description": "refused: see `code`"},
            422: {"model": E, "description": "`invalid_request` or `idempotency_key_reused`"},
        },
        tags=["controls"],
    )
    async def create_control(
        body: Annotated[models.ControlCreate, Body()],
        court: CourtOf,
        idempotency_key: IdempotencyKey,
    ) -> Response:
        """Freeze, renew, unfreeze or deduct an asset the case has found. A refusal (409)
        is recorded too, and replayed under its key like a success."""
        return await serve_control(court, idempotency_key, body)

    @admin.get(
        paths.RECONCILE,
        response_model=models.ReconcileView,
        responses=AUTH,
        dependencies=[AdminOnly],
        tags=["admin"],
    )
    async def admin_reconcile() -> Response:
        """Money conserved to the fen, no cap exceeded, no deduction outside a freeze."""
        result = await run_in_threadpool(db.snapshot, lambda c: reconcile(c, world))
        return json_response(200, result)

    @admin.get(
        paths.AUDIT_VERIFY,
        response_model=models.AuditVerifyView,
        responses=AUTH,
        dependencies=[AdminOnly],
        tags=["admin"],
    )
    async def admin_audit_verify() -> Response:
        """Recompute the audit log's hash chain."""
        return json_response(200, await run_in_threadpool(db.snapshot, audit.verify))

    app.include_router(courts)
    app.include_router(admin)
    return BodyLimit(app)
