"""A short way through the application for the two requests a load test sends most.

FastAPI spends more time on a request than SQLite does (about 170 µs for
``GET /v1/queries/{id}`` and 390 µs for ``POST /v1/controls`` in-process: dependency
resolution for the bearer token, the path, the header and the body, then the endpoint's
plumbing). :class:`FastPath` sits inside the application's middleware (metrics, body limit,
error answers) and answers these two requests itself **only when every check FastAPI would
make passes**, with the same checks:

- the method and the path match the route exactly, and the id is a plain decimal number
  in range (``Path(ge=1, le=MAX_ID)``);
- the bearer token is a court's (the same parsing as ``HTTPBearer``; tokens are fixed at
  start-up, so the token -> court lookup is cached per process after its SHA-256 matched);
- for a control: the ``Idempotency-Key`` matches its documented pattern, the body was
  declared (``Content-Length``, within the limit), has a JSON content type, parses as JSON
  and validates against the same pydantic model (:data:`load.api.models.ControlCreate`).

Anything else (no or another token, a bad id, key or body, a chunked body, another method)
goes on to FastAPI unchanged, the body replayed, so every error answer, audit entry and
metric is exactly what the routes give. The work itself is the routes' own
(:func:`serve_query` and :func:`serve_control` in :mod:`load.api.app`), and an error it
raises goes to the application's own exception handlers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from load.api import models
from load.api.auth import Auth
from load.api.world import Court

QUERY_PREFIX = "/v1/queries/"
CONTROLS = "/v1/controls"
_ID = re.compile(r"[1-9][0-9]{0,15}")
_KEY = re.compile(r"[!-~]{1,255}")
_control = TypeAdapter(models.ControlCreate)

QueryHandler = Callable[[Court, int], Awaitable[Response]]
ControlHandler = Callable[[Court, str, Any], Awaitable[Response]]


class FastPath:
    def __init__(
        self,
        app: ASGIApp,
        fastapi: FastAPI,
        auth: Auth,
        query: QueryHandler,
        control: ControlHandler,
    ) -> None:
        self.app = app
        self.fastapi = fastapi
        self.auth = auth
        self.query = query
        self.control = control
        self.courts: dict[str, Court] = {}  # token -> court, filled as tokens are seen
        self.routes: dict[str, BaseRoute] = {}

    def route(self, path: str) -> BaseRoute:
        """The FastAPI route (metrics and the audit name requests by its path template)."""
        if path not in self.routes:
            self.routes[path] = next(
                r for r in self.fastapi.router.routes if getattr(r, "path", None) == path
            )
        return self.routes[path]

    def court(self, headers: list[tuple[bytes, bytes]]) -> Court | None:
        value = next((v for k, v in headers if k == b"authorization"), None)
        if value is None:
            return None
        scheme, _, token = value.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        court = self.courts.get(token)
        if court is None:
            court = self.auth.courts.get(hashlib.sha256(token.encode()).hexdigest())
            if court is not None:
                self.courts[token] = court
        return court

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if method == "GET" and path.startswith(QUERY_PREFIX):
                if await self.get_query(scope, receive, send):
                    return
            elif method == "POST" and path == CONTROLS:
                receive = await self.post_control(scope, receive, send)
                if receive is None:
                    return
        await self.app(scope, receive, send)

    async def get_query(self, scope: Scope, receive: Receive, send: Send) -> bool:
        ident = scope["path"][len(QUERY_PREFIX) :]
        if not _ID.fullmatch(ident) or int(ident) > models.MAX_ID:
            return False
        court = self.court(scope["headers"])
        if court is None:
            return False
        scope["route"] = self.route(QUERY_PREFIX + "{query_id}")
        await self.answer(scope, receive, send, court, self.query(court, int(ident)))
        return True

    async def post_control(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None when answered here; else the ``receive`` to go on with (the body replayed)."""
        length = key = ctype = None
        for k, v in scope["headers"]:
            if k == b"content-length":
                length = v
            elif k == b"idempotency-key" and key is None:
                key = v
            elif k == b"content-type" and ctype is None:
                ctype = v
        if length is None or key is None or ctype is None:
            return receive
        if ctype.split(b";", 1)[0].strip().lower() != b"application/json":
            return receive
        key_text = key.decode("latin-1")
        court = self.court(scope["headers"])
        if court is None or not _KEY.fullmatch(key_text):
            return receive
        body, receive = await read_body(receive)
        try:
            request = _control.validate_python(json.loads(body))
        except (ValueError, ValidationError):  # JSONDecodeError is a ValueError
            return receive
        scope["route"] = self.route(CONTROLS)
        await self.answer(scope, receive, send, court, self.control(court, key_text, request))
        return None

    async def answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        court: Court,
        work: Awaitable[Response],
    ) -> None:
        try:
            response = await work
        except Exception as exc:
            handler = _handler(self.fastapi, exc)
            if handler is None:
                raise
            request = Request(scope, receive)
            request.state.court = court.court_id
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler(app: FastAPI, exc: Exception) -> Any:
    """The application's handler for ``exc`` (as Starlette looks it up: by class, MRO)."""
    for cls in type(exc).__mro__:
        if cls in app.exception_handlers:
            return app.exception_handlers[cls]
    return None


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that gives it again, then what follows."""
    chunks = []
    first: Message | None = None
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: the app sees it too
            first = message
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if first is None:
        first = {"type": "http.request", "body": body, "more_body": False}

    async def replay() -> Message:
        nonlocal first
        if first is not None:
            message, first = first, None
            return message
        return await receive()

    return body, replay
