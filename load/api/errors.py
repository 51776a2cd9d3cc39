"""Errors the API answers with: an HTTP status, a machine-readable ``code`` and a message.

Every error body is ``{"code": CODE, "detail": MESSAGE}`` (validation errors add
``errors``, refused controls add ``control_id``). :data:`REFUSALS` are the 409 codes of
``POST /v1/controls`` and ``POST /v1/queries``; they are documented in the OpenAPI.
"""

from __future__ import annotations

REFUSALS: dict[str, str] = {
    "cap_exceeded": "the deduction would take more than the provident-fund annual cap of the "
    "asset's region in this calendar year (公积金 cap)",
    "not_frozen": "the case holds no freeze on this asset (never frozen, or unfrozen)",
    "freeze_expired": "the case's freeze on this asset lapsed without renewal; it lost its hold",
    "insufficient_balance": "not enough money: the asset's free balance (freeze) or the "
    "freeze's hold (deduct)",
    "offline_required": "the channel the record came over cannot act online; an officer must "
    "go in person",
    "stale_record": "the record the freeze relied on was wrong or stale; query again",
    "already_frozen": "the case already holds an active freeze on this asset (renew it)",
    "exceeds_claim": "the amount is more than the case's claim still outstanding",
    "sale_required": "real estate and vehicles are realised by a sale (auction), not deducted",
    "channel_unavailable": "the channel reaches no agency from the court's region",
    "control_pending": "another control of the case on this asset is still with the agency "
    "(controls = scenario)",
}

OTHER_CODES: dict[str, str] = {
    "unauthenticated": "401: missing or unknown bearer token",
    "forbidden": "403: the token may not use this endpoint (admin vs court)",
    "not_found": "404: no such object for this court (another court's objects look the same)",
    "invalid_request": "422: the request does not match the schema (unknown fields, wrong "
    "types, amounts out of bounds, missing Idempotency-Key)",
    "malformed_json": "400: the body is not valid JSON (or repeats a key, or nests too deep)",
    "unsupported_media_type": "415: the body is not sent as application/json",
    "idempotency_key_reused": "422: this Idempotency-Key was used with a different body",
    "body_too_large": "413: the body is larger than the limit",
    "body_timeout": "408: the body did not arrive whole in time (the connection is closed)",
    "method_not_allowed": "405: the path does not take this method",
    "busy": "503: the database stayed locked; retry",
    "http_error": "any other HTTP error the framework raises (none is known to reach a client)",
    "internal_error": "500: a bug, never a client's mistake (logged with its traceback)",
}


class ApiError(Exception):
    """An error answer. ``audit``: record it as a refused authorisation."""

    def __init__(
        self, status: int, code: str, detail: str, *, audit: bool = False, **extra: object
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.audit = audit
        self.extra = extra

    def body(self) -> dict[str, object]:
        return {"code": self.code, "detail": self.detail, **self.extra}


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} not found", audit=True)


def code_table() -> str:
    """Every code as a Markdown table, for the OpenAPI description."""
    rows = [f"| `{c}` | 409: {d} |" for c, d in REFUSALS.items()]
    rows += [f"| `{c}` | {d} |" for c, d in OTHER_CODES.items()]
    return "| code | meaning |\n| --- | --- |\n" + "\n".join(rows)
