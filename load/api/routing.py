"""The routes' order of checks, before FastAPI resolves a single parameter.

FastAPI parses a JSON body before it runs any dependency, so a bad body would be answered
before a missing token. Every route here is an :class:`ApiRoute` (FastAPI's documented
extension point: ``APIRoute.get_route_handler``) that, in this order:

1. names the request by its path template (``scope[ROUTE]``, for metrics and the audit);
2. authenticates (:meth:`load.api.auth.Auth.permit`): 401 or 403 before the body is
   read (court and admin routes);
3. reads the body (its size and time limits: :mod:`load.api.body`), refuses a non-JSON
   content type (415) and parses it strictly (:func:`load.api.body.parse_json`: 400);

and only then hands the request to FastAPI, which validates parameters and body against the
models (422) and calls the endpoint. The fast path (:mod:`load.api.fastpath`) makes the
same checks with the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from load.api.auth import Auth, Need, name_of
from load.api.body import is_json, parse_json
from load.api.errors import ApiError

ROUTE = "chakong.route"  # the scope key naming a request by its path template
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class StrictJSONRequest(Request):
    """A request whose JSON body was already parsed strictly (FastAPI asks for ``json()``)."""

    parsed: Any = None

    async def json(self) -> Any:
        return self.parsed


def unsupported(content_type: str | None) -> ApiError:
    shown = "none" if content_type is None else f"'{content_type[:60]}'"
    return ApiError(
        415, "unsupported_media_type", f"the body must be application/json (Content-Type: {shown})"
    )


async def strict_body(request: Request) -> Request:
    """The request with its body read, its content type checked and its JSON parsed."""
    strict = StrictJSONRequest(request.scope, request.receive)
    raw = await strict.body()
    if raw:  # no body at all: FastAPI says which fields are missing (422)
        content_type = strict.headers.get("content-type")
        if not is_json(content_type):
            raise unsupported(content_type)
        strict.parsed = parse_json(raw)
    return strict


class ApiRoute(APIRoute):
    """A route open to anyone (``/healthz``, ``/metrics``, the OpenAPI)."""

    need: ClassVar[Need | None] = None

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        template, need, has_body = self.path, self.need, self.body_field is not None

        async def checked(request: Request) -> Response:
            request.scope[ROUTE] = template
            if need is not None:
                auth: Auth = request.app.state.auth
                who = auth.who(request.scope)
                if who is not None:
                    request.state.court = name_of(who)
                request.state.who = auth.permit(who, need)
            if has_body:
                request = await strict_body(request)
            return await handler(request)

        return checked


class CourtRoute(ApiRoute):
    """A court's route: a court's token, or 401/403 before the body is read."""

    need = "court"


class AdminRoute(ApiRoute):
    """An admin route: the admin token, or 401/403."""

    need = "admin"
