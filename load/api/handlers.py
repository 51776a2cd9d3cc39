"""Error answers: one function per kind of error, installed as the application's exception
handlers and called by the fast path for the errors its work raises (the same functions, so
the same bytes, the same audit entry).

Every error is JSON ``{"code", "detail"}`` (validation errors add ``errors``); a client's
mistake is a 4xx with no traceback in the log; only a bug is a 500 (logged with its
traceback, as the server logs every unhandled exception).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from load.api.body import BodyTimeout
from load.api.db import DatabaseBusy
from load.api.denials import Denials
from load.api.errors import ApiError
from load.api.routing import ROUTE

log = logging.getLogger("chakong.api")
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def allowed(request: Request) -> list[str]:
    """The methods of every route whose path matches the request's (Starlette's 405 names
    only the first such route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)  # PARTIAL: the path, not the method
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


class Answers:
    """The application's answers to errors (one instance per application)."""

    def __init__(self, denials: Denials) -> None:
        self.denials = denials

    def install(self, app: FastAPI) -> None:
        app.add_exception_handler(ApiError, self.api_error)  # type: ignore[arg-type]
        app.add_exception_handler(BodyTimeout, self.slow_body)  # type: ignore[arg-type]
        app.add_exception_handler(RequestValidationError, self.invalid)  # type: ignore[arg-type]
        app.add_exception_handler(StarletteHTTPException, self.http_error)  # type: ignore[arg-type]
        app.add_exception_handler(DatabaseBusy, self.busy)  # type: ignore[arg-type]
        app.add_exception_handler(Exception, self.internal)

    async def answer(self, request: Request, exc: Exception) -> Response | None:
        """The answer to an error the work of a request raised; None for a bug."""
        if isinstance(exc, ApiError):
            return await self.api_error(request, exc)
        if isinstance(exc, DatabaseBusy):
            return await self.busy(request, exc)
        if isinstance(exc, BodyTimeout):
            return await self.slow_body(request, exc)
        return None

    async def api_error(self, request: Request, exc: ApiError) -> Response:
        if exc.audit:  # counted, written together (load.api.denials)
            action = f"{request.method} {request.scope.get(ROUTE, request.url.path)}"
            self.denials.count(getattr(request.state, "court", "-"), action, exc.code)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    async def invalid(self, request: Request, exc: RequestValidationError) -> Response:
        listed = [
            {
                "loc": [str(part) for part in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()[:10]
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in listed)
        body = {"code": "invalid_request", "detail": detail, "errors": listed}
        return JSONResponse(body, status_code=422)

    async def http_error(self, request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = exc.headers
        if exc.status_code == 405:  # every method the path takes, not the first route's only
            headers = {**(headers or {}), "Allow": ", ".join(allowed(request))}
        body = {"code": code, "detail": detail}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    async def slow_body(self, request: Request, exc: BodyTimeout) -> Response:
        body = {"code": "body_timeout", "detail": str(exc)}
        return JSONResponse(body, status_code=408, headers={"Connection": "close"})

    async def busy(self, request: Request, exc: DatabaseBusy) -> Response:
        body = {"code": "busy", "detail": "the database stayed locked; retry"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    async def internal(self, request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        body = {"code": "internal_error", "detail": f"{type(exc).__name__}"}
        return JSONResponse(body, status_code=500)
