"""A short way through the application for the two requests a load test sends most.

FastAPI spends more time on a request than the database does (about 170 µs for
``GET /v1/queries/{id}`` and 390 µs for ``POST /v1/controls`` in-process: routing,
dependency resolution for the token, the path, the header and the body, then the endpoint's
plumbing). :class:`FastPath` sits inside the application's middleware (metrics, body limit)
and answers these two requests itself **only when every check the route makes passes**,
made with the route's own definitions, not copies of them:

- the path: :mod:`load.api.paths` (the templates the routes are declared with) and
  :data:`load.api.models.path_id` (the type of the route's path parameter);
- the token: :meth:`load.api.auth.Auth.who` (the routes' parsing and lookup);
- a control's ``Idempotency-Key``: :data:`load.api.models.idempotency_key` (the type of the
  route's header); its body: :func:`load.api.body.is_json`, :func:`load.api.body.parse_json`
  and :data:`load.api.models.control_create` (the route's body type), read in full only
  when its length was declared (a chunked body goes to the route).

Anything else goes on to the routes unchanged, the body replayed, so every error answer,
audit entry and metric is the route's own. The work is the routes' too (``serve_query`` and
``serve_control`` in :mod:`load.api.app`), and an error it raises is answered by the
application's own handlers (:class:`load.api.handlers.Answers`). ``tests/api/test_fastpath.py``
sends the same battery of good and bad requests with the fast path on and off and compares
every byte.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from load.api import models, paths
from load.api.auth import Auth, first_header
from load.api.body import BodyTimeout, is_json, parse_json, read_body
from load.api.errors import ApiError
from load.api.handlers import Answers
from load.api.routing import ROUTE
from load.api.world import Court

QUERY_PREFIX = paths.prefix(paths.QUERY)

QueryHandler = Callable[[Court, int], Awaitable[Response]]
ControlHandler = Callable[[Court, str, Any], Awaitable[Response]]


@dataclass(eq=False)
class FastPath:
    """The middleware: ``app`` (the routes, for everything it does not answer itself), the
    routes' ``auth`` and error ``answers``, and the routes' work for a query and a control."""

    app: ASGIApp
    auth: Auth
    answers: Answers
    query: QueryHandler
    control: ControlHandler

    def court(self, scope: Scope) -> Court | None:
        who = self.auth.who(scope)
        return who if isinstance(who, Court) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if method == "GET" and path.startswith(QUERY_PREFIX):
                if await self.get_query(scope, receive, send):
                    return
            elif method == "POST" and path == paths.CONTROLS:
                answered, receive = await self.post_control(scope, receive, send)
                if answered:
                    return
        await self.app(scope, receive, send)

    async def get_query(self, scope: Scope, receive: Receive, send: Send) -> bool:
        try:
            query_id = models.path_id.validate_python(scope["path"][len(QUERY_PREFIX) :])
        except ValidationError:
            return False
        court = self.court(scope)
        if court is None:
            return False
        scope[ROUTE] = paths.QUERY
        await self.answer(scope, receive, send, court, self.query(court, query_id))
        return True

    async def post_control(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[bool, Receive]:
        """(True, _) when answered here; else (False, the ``receive`` to go on with)."""
        if first_header(scope, b"content-length") is None:
            return False, receive
        if not is_json(first_header(scope, b"content-type")):
            return False, receive
        court = self.court(scope)
        key = first_header(scope, b"idempotency-key")
        if court is None or key is None:
            return False, receive
        try:
            key = models.idempotency_key.validate_python(key)
        except ValidationError:
            return False, receive
        try:
            body, receive = await read_body(receive)
        except BodyTimeout as exc:
            scope[ROUTE] = paths.CONTROLS
            answer = await self.answers.slow_body(Request(scope, receive), exc)
            await answer(scope, receive, send)
            return True, receive
        try:
            request = models.control_create.validate_python(parse_json(body))
        except (ApiError, ValidationError):
            return False, receive
        scope[ROUTE] = paths.CONTROLS
        await self.answer(scope, receive, send, court, self.control(court, key, request))
        return True, receive

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
            request = Request(scope, receive)
            request.state.court = court.court_id
            answer = await self.answers.answer(request, exc)
            if answer is None:
                raise  # a bug: the server error middleware answers 500, as for a route
            response = answer
        await response(scope, receive, send)
