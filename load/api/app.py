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
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Body, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from load.api import audit, casework, controls, models
from load.api.auth import AdminOnly, Auth, CourtOf
from load.api.db import Database, DatabaseBusy
from load.api.errors import ApiError, code_table
from load.api.fastpath import FastPath
from load.api.metrics import Metrics, MetricsMiddleware
from load.api.reconcile import reconcile
from load.api.world import Court, World

T = TypeVar("T")
DB_ENV = "CHAKONG_API_DB"
MAX_BODY_BYTES = 16 * 1024
log = logging.getLogger("chakong.api")

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
AUTH = {
    401: {"model": E, "description": "`unauthenticated`: no valid bearer token"},
    403: {"model": E, "description": "`forbidden`: wrong kind of token for this endpoint"},
}
READ = {
    **AUTH,
    404: {"model": E, "description": "`not_found` (or another court's)"},
    422: {"model": E, "description": "`invalid_request`: a bad id in the path"},
}
WRITE = {
    **READ,
    400: {"model": E, "description": "`malformed_json`"},
    413: {"model": E, "description": "`body_too_large`"},
    422: {"model": E, "description": "`invalid_request`: the body does not match the schema"},
}
PathId = Annotated[int, Path(ge=1, le=models.MAX_ID)]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="A client-chosen key (printable ASCII, no spaces) naming this control.",
    ),
]


def json_response(status: int, body: Any) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status,
        media_type="application/json",
    )


class BodyLimit:
    """Bodies over ``limit`` bytes get a JSON 413. A declared ``Content-Length`` over the limit
    is answered before anything reads the body; a body sent without one (chunked) is counted
    as it arrives, and the route reading it fails with the same 413. (FastAPI's own
    ``max_body_size`` answers in plain text and adds three middleware layers to every
    request.)"""

    def __init__(self, app: FastAPI, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if length.isdigit() and int(length) > self.limit:
                body = {"code": "body_too_large", "detail": self._detail(int(length))}
                await JSONResponse(body, status_code=413)(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server reads no more than declared
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise StarletteHTTPException(413, self._detail(seen))
            return message

        await self.app(scope, counted, send)

    def _detail(self, size: int) -> str:
        return f"the body is {size} bytes or more; at most {self.limit} are taken"


def create_app(db_url: str | None = None) -> BodyLimit:
    db = Database(db_url or os.environ[DB_ENV])
    world = World.load(db)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

    app = FastAPI(
        title="chakong query-and-control API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.world = world
    app.state.auth = Auth(world)
    _install_errors(app, world)

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
    app.add_middleware(
        FastPath, fastapi=app, auth=app.state.auth, query=serve_query, control=serve_control
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/healthz", response_model=models.Health, tags=["service"])
    async def healthz() -> Response:
        return json_response(200, {"status": "ok", "sim_time": world.clock.iso(world.clock.now())})

    @app.get(
        "/metrics",
        tags=["service"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.post(
        "/v1/cases",
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

    @app.get("/v1/cases/{case_id}", response_model=models.CaseView, responses=READ, tags=["cases"])
    async def get_case(case_id: PathId, court: CourtOf) -> Response:
        """The case, the money it recovered, its queries and every control (refusals too)."""
        return json_response(200, db.read(lambda c: casework.read_case(c, world, court, case_id)))

    @app.post(
        "/v1/queries",
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

    @app.get(
        "/v1/queries/{query_id}",
        response_model=models.QueryView,
        responses=READ,
        tags=["queries"],
    )
    async def get_query(query_id: PathId, court: CourtOf) -> Response:
        """``pending`` until the last agency has answered; findings arrive one by one."""
        return await serve_query(court, query_id)

    @app.post(
        "/v1/controls",
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

    @app.get(
        "/v1/admin/reconcile",
        response_model=models.ReconcileView,
        responses=AUTH,
        dependencies=[AdminOnly],
        tags=["admin"],
    )
    async def admin_reconcile() -> Response:
        """Money conserved to the fen, no cap exceeded, no deduction outside a freeze."""
        result = await run_in_threadpool(db.snapshot, lambda c: reconcile(c, world))
        return json_response(200, result)

    @app.get(
        "/v1/admin/audit/verify",
        response_model=models.AuditVerifyView,
        responses=AUTH,
        dependencies=[AdminOnly],
        tags=["admin"],
    )
    async def admin_audit_verify() -> Response:
        """Recompute the audit log's hash chain."""
        return json_response(200, await run_in_threadpool(db.snapshot, audit.verify))

    return BodyLimit(app, MAX_BODY_BYTES)


def _install_errors(app: FastAPI, world: World) -> None:
    def record_denial(request: Request, exc: ApiError) -> None:
        route = request.scope.get("route")
        action = f"{request.method} {getattr(route, 'path', request.url.path)}"
        court = getattr(request.state, "court", "-")
        world.db.write(
            lambda c: audit.append(c, court, action, request.url.path, f"denied:{exc.code}")
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if exc.audit:
            await run_in_threadpool(record_denial, request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            why = (bad_json.get("ctx") or {}).get("error", "not JSON")
            detail = f"the body is not valid JSON: {why} (at character {bad_json['loc'][-1]})"
            return JSONResponse({"code": "malformed_json", "detail": detail}, status_code=400)
        listed = [
            {
                "loc": [str(part) for part in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in errors[:10]
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in listed)
        body = {"code": "invalid_request", "detail": detail, "errors": listed}
        return JSONResponse(body, status_code=422)

    codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = codes.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            {"code": code, "detail": detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(DatabaseBusy)
    async def busy(request: Request, exc: DatabaseBusy) -> Response:
        body = {"code": "busy", "detail": "the database stayed locked; retry"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        body = {"code": "internal_error", "detail": f"{type(exc).__name__}"}
        return JSONResponse(body, status_code=500)
