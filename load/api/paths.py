"""The API's paths, written once: the routes are declared with them, the fast path matches
them, metrics and the audit log name requests by them (the template, never the raw path)."""

from __future__ import annotations

HEALTH = "/healthz"
METRICS = "/metrics"
OPENAPI = "/openapi.json"
DOCS = "/docs"
CASES = "/v1/cases"
CASE = "/v1/cases/{case_id}"
QUERIES = "/v1/queries"
QUERY = "/v1/queries/{query_id}"
CONTROLS = "/v1/controls"
CONTROL = "/v1/controls/{control_id}"
RECONCILE = "/v1/admin/reconcile"
AUDIT_VERIFY = "/v1/admin/audit/verify"
AUDIT_CHECKPOINT = "/v1/admin/audit/checkpoint"
CLOCK = "/v1/admin/clock"


def prefix(template: str) -> str:
    """``/v1/queries/{query_id}`` -> ``/v1/queries/``: what a concrete path starts with."""
    return template.split("{", 1)[0]
