"""The OpenAPI contract's prose and wiring: the description, the documented answers of each
kind of endpoint, operation ids, and the links between operations (a case's id from
``POST /v1/cases`` to ``GET /v1/cases/{case_id}``, ...) that let a client, or a
stateful test, follow the flow. Every status a route can answer is documented here."""

from __future__ import annotations

from typing import Any

from load.api import models
from load.api.errors import code_table

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
With `[api] controls = "instant"` (the default) a control is done (201) or refused (409) at
once. With `"scenario"` it is accepted (202) and handed to the agency, which acts on the
scaled clock with the scenario's control latencies, failures and waiting freezes (轮候):
follow it at `GET /v1/controls/{{control_id}}` (accepted, processing, then done, failed with
the agency's reason, or unknown while an answer is late or lost in fault mode; unknown is
never failed). A retry of an unknown control with its key asks the agency again and never
acts twice.

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
BUSY: Responses = {503: {"model": E, "description": "`busy`: the database stayed locked; retry"}}
WRITE: Responses = {
    **READ,
    **BUSY,
    400: {"model": E, "description": "`malformed_json`"},
    408: {"model": E, "description": "`body_timeout`: the body did not arrive in time"},
    413: {"model": E, "description": "`body_too_large`"},
    415: {"model": E, "description": "`unsupported_media_type`: not application/json"},
    422: {"model": E, "description": "`invalid_request`: the body does not match the schema"},
}


def link(operation: str, parameter: str, source: str) -> dict[str, Any]:
    return {"operationId": operation, "parameters": {parameter: f"$response.body#/{source}"}}


CASE_LINKS = {
    "GetCase": link("getCase", "case_id", "case_id"),
    "QueryCase": {
        "operationId": "createQuery",
        "requestBody": {"case_id": "$response.body#/case_id", "channel": "central"},
    },
}
QUERY_LINKS = {"GetQuery": link("getQuery", "query_id", "query_id")}
CONTROL_LINKS = {
    "GetControl": link("getControl", "control_id", "control_id"),
    "GetControlCase": link("getCase", "case_id", "case_id"),
}
CREATED_CASE: Responses = {201: {"links": CASE_LINKS}, **WRITE}
CREATED_QUERY: Responses = {
    202: {"links": QUERY_LINKS},
    **WRITE,
    409: {"model": models.Refusal, "description": "`channel_unavailable`"},
}
CREATED_CONTROL: Responses = {
    201: {"links": CONTROL_LINKS},
    **WRITE,
    202: {
        "model": models.ControlAccepted,
        "description": "handed to the agency",
        "links": CONTROL_LINKS,
    },
    409: {"model": models.Refusal, "description": "refused: see `code`"},
    422: {"model": E, "description": "`invalid_request` or `idempotency_key_reused`"},
}
CHECKPOINT: Responses = {
    200: {
        "links": {
            "VerifyAgainstIt": {
                "operationId": "verifyAuditAgainst",
                "requestBody": "$response.body",
            }
        }
    },
    **AUTH,
}
