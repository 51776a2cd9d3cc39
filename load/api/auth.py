"""Bearer tokens: which court is asking (from the token, never the body), and who may not.

- No token, or one that names nobody: 401 (``unauthenticated``).
- A court token on an admin endpoint, or the admin token on a court endpoint: 403.
- A court asking for another court's case, query or asset gets 404, exactly as for an id
  that does not exist (see :func:`load.api.ledger.case_of`), so ids reveal nothing.

Tokens are kept as SHA-256 digests; the courts never change while the server runs, so each
worker reads them once.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from load.api.db import courts
from load.api.errors import ApiError
from load.api.world import Court, World

bearer = HTTPBearer(
    auto_error=False,
    description="A court's token (from the fixtures file) or the admin token.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class Auth:
    def __init__(self, world: World) -> None:
        rows = world.db.read(lambda c: c.execute(select(courts)).all())
        self.courts = {r.token_sha256: Court(r.court_id, r.region) for r in rows}
        self.admin_sha256 = world.admin_token_sha256

    def identify(self, credentials: HTTPAuthorizationCredentials | None) -> Court | str | None:
        """The court, ``"admin"``, or None for no valid token."""
        if credentials is None:
            return None
        digest = hashlib.sha256(credentials.credentials.encode()).hexdigest()
        if digest == self.admin_sha256:
            return "admin"
        return self.courts.get(digest)


def _who(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Court | str:
    who = request.app.state.auth.identify(credentials)
    if who is None:
        raise ApiError(
            401,
            "unauthenticated",
            "a valid bearer token is required (Authorization: Bearer T)",
            audit=True,
        )
    request.state.court = who if isinstance(who, str) else who.court_id
    return who


async def court_of(request: Request, credentials: Credentials) -> Court:
    """The court the token belongs to (a dependency of every court endpoint)."""
    who = _who(request, credentials)
    if not isinstance(who, Court):
        raise ApiError(403, "forbidden", "this endpoint needs a court's token", audit=True)
    return who


async def admin_only(request: Request, credentials: Credentials) -> None:
    """Only the admin token passes (a dependency of the admin endpoints)."""
    if _who(request, credentials) != "admin":
        raise ApiError(403, "forbidden", "this endpoint needs the admin token", audit=True)


CourtOf = Annotated[Court, Depends(court_of)]
AdminOnly = Depends(admin_only)
