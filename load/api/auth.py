"""Bearer tokens: which court is asking (from the token, never the body), and who may not.

- No token, or one that names nobody: 401 (``unauthenticated``).
- A court token on an admin endpoint, or the admin token on a court endpoint: 403.
- A court asking for another court's case, query or asset gets 404, exactly as for an id
  that does not exist (see :func:`load.api.casework.case_of`), so ids reveal nothing.

One definition of each step, used by the routes (:mod:`load.api.routing`, before the body
is read) and by the fast path alike: :func:`first_header`, :func:`bearer_token` (the parsing
of FastAPI's ``HTTPBearer``: scheme, one space, the credentials stripped), :meth:`Auth.who`
and :meth:`Auth.permit`. Tokens are kept as SHA-256 digests; the courts never change while
the server runs, so each worker reads them once and remembers the tokens it has matched.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from starlette.requests import HTTPConnection
from starlette.types import Scope

from load.api.errors import ApiError
from load.api.schema import courts
from load.api.world import Court, World

ADMIN: Literal["admin"] = "admin"
Who = Court | Literal["admin"]
Need = Literal["court", "admin"]


def name_of(who: Who) -> str:
    """How the audit log names who asked: the court's id, or ``admin``."""
    return who.court_id if isinstance(who, Court) else who


def first_header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as Starlette's ``Headers.get``."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``; None for anything else."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not scheme or not token or scheme.lower() != "bearer":
        return None
    return token


class Auth:
    def __init__(self, world: World) -> None:
        rows = world.db.read(lambda c: c.execute(select(courts)).all())
        self.courts = {r.token_sha256: Court(r.court_id, r.region) for r in rows}
        self.admin_sha256 = world.admin_token_sha256
        self._known: dict[str, Who] = {}  # tokens matched so far (never those that did not)

    def identify(self, token: str | None) -> Who | None:
        """The court, ``"admin"``, or None for no valid token."""
        if token is None:
            return None
        who = self._known.get(token)
        if who is None:
            digest = hashlib.sha256(token.encode()).hexdigest()
            who = ADMIN if digest == self.admin_sha256 else self.courts.get(digest)
            if who is not None:
                self._known[token] = who
        return who

    def who(self, scope: Scope) -> Who | None:
        return self.identify(bearer_token(first_header(scope, b"authorization")))

    def permit(self, who: Who | None, need: Need) -> Who:
        """``who``, if they may: 401 for no valid token, 403 for the wrong kind."""
        if who is None:
            raise ApiError(
                401,
                "unauthenticated",
                "a valid bearer token is required (Authorization: Bearer T)",
                audit=True,
            )
        if need == "court" and not isinstance(who, Court):
            raise ApiError(403, "forbidden", "this endpoint needs a court's token", audit=True)
        if need == "admin" and who != ADMIN:
            raise ApiError(403, "forbidden", "this endpoint needs the admin token", audit=True)
        return who


class _Bearer(HTTPBearer):
    """The bearer scheme as the OpenAPI documents it. The token itself was checked by the
    route before the body was read (:mod:`load.api.routing`), so nothing is parsed twice."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return None


bearer = _Bearer(
    scheme_name="HTTPBearer",
    auto_error=False,
    description="A court's token (from the fixtures file) or the admin token.",
)
Documented = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def court_of(request: Request, _: Documented) -> Court:
    """The court the token belongs to (authenticated by the route)."""
    who = request.state.who
    assert isinstance(who, Court)
    return who


async def admin_only(_: Documented) -> None:
    """Only the admin token passes (checked by the route)."""


CourtOf = Annotated[Court, Depends(court_of)]
AdminOnly = Depends(admin_only)
