"""Preflight: a few calls of every kind before a run, to fail fast when the target does not
answer as its adapter says.

In the ``chakong`` process (plain HTTP, no Locust), in order: the adapter's health check;
``file_case``, ``send_query``, ``poll_query`` and ``read_case`` for one court (each must
answer a status the adapter calls success, as JSON holding what the adapter extracts); and
each control against an asset the new case has not found, and ``poll_control`` of a control
it never made (the answer must be JSON, with a status the adapter calls success, a
documented refusal, or a 404/422). Anything else is a
:class:`UserError` naming the request, what was sent and what came back: exit 2, within
seconds, before any load is offered. Calls are bounded by ``timeout`` each.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from load.target import logical as lr
from load.target.adapter import Adapter, Call, CaseControls, Check, dig
from sim.errors import UserError

ANSWERED_UNKNOWN = (404, 422)  # what a control on an asset the case never found may get


def send(host: str, call: Call, timeout: float) -> tuple[int, str]:
    """One request; (status, body text). ``OSError`` when nothing answers."""
    data = None
    headers = dict(call.headers)
    if isinstance(call.body, str | bytes):  # serialised by the adapter's hook
        data = call.body.encode() if isinstance(call.body, str) else call.body
        headers.setdefault("Content-Type", "application/json")
    elif call.body is not None:
        data = json.dumps(call.body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(host + call.url, data=data, headers=headers, method=call.method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text[:80] + ("..." if len(text) > 80 else "")


def check_endpoint(
    host: str, adapter: Adapter, check: Check, variables: dict[str, Any], timeout: float
) -> tuple[bool, int, Any]:
    """Run an adapter check (health, reconcile, audit): (ok, status, JSON body or text)."""
    status, text = send(host, adapter.admin_call(check, variables), timeout)
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        return False, status, _short(text)
    try:
        ok = status == 200 and dig(body, check.ok.path) == check.ok.equals
    except (KeyError, TypeError):
        ok = False
    return ok, status, body


def _lists_controls(body: Any, listing: CaseControls) -> bool:
    """A case's answer with its controls (and its money) where the adapter says."""
    try:
        if listing.recovered_fen is not None:
            dig(body, listing.recovered_fen)
        return isinstance(dig(body, listing.controls), list)
    except (KeyError, TypeError):
        return False


def preflight(
    host: str,
    adapter: Adapter,
    fixtures: dict[str, Any],
    *,
    channel: str = "central",
    claim_fen: int = 1_000_000,
    run_id: str = "preflight",
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Call every logical request once; return what was seen, or raise :class:`UserError`."""
    began = time.perf_counter()
    where = f"preflight of {host} through the adapter '{adapter.name}'"
    seen: dict[str, Any] = {}

    def fail(logical: str, call: Call, status: int, text: str, why: str) -> None:
        answer = f"{status} {_short(text)}" if status else "no answer"
        raise UserError(
            f"{where}: {logical} ({call.method} {call.url}) {why}; got {answer}. The target "
            "does not answer as the adapter says (--adapter FILE for another API)"
        )

    def call_once(logical: str, variables: dict[str, Any], refusals_ok: bool = False) -> Any:
        call = adapter.call(logical, variables)
        try:
            status, text = send(host, call, timeout)
        except OSError as exc:
            raise UserError(
                f"{where}: {logical} ({call.method} {call.url}): cannot connect "
                f"({getattr(exc, 'reason', exc)})"
            ) from None
        reply = adapter.read(logical, status, text, variables)
        seen[logical] = {"status": status, "result": reply.result, "label": reply.label}
        if reply.result == "ok":
            return reply
        if refusals_ok and (reply.result == "refused" or status in ANSWERED_UNKNOWN):
            if not isinstance(reply.body, dict):
                fail(logical, call, status, text, "answered without a JSON object")
            return reply
        ok = ", ".join(map(str, adapter.requests[logical].ok))
        fail(logical, call, status, text, f"should answer {ok} ({reply.label})")
        return None

    if adapter.spec.health is not None:
        variables = {"admin_token": fixtures.get("admin_token", "")}
        try:
            ok, status, body = check_endpoint(
                host, adapter, adapter.spec.health, variables, timeout
            )
        except OSError as exc:
            raise UserError(f"{where}: cannot connect ({getattr(exc, 'reason', exc)})") from None
        if not ok:
            h = adapter.spec.health
            raise UserError(
                f"{where}: health {h.method} {h.path} should answer 200 with "
                f"{h.ok.path} = {h.ok.equals!r}; got {status} {_short(str(body))}"
            )
        seen["health"] = {"status": status, "result": "ok"}
    court_id, court = next(iter(sorted(fixtures["courts"].items())))
    debtor = next(
        (d for d in fixtures["debtors"] if d["region"] == court["region"]), fixtures["debtors"][0]
    )
    base = {
        "court_id": court_id,
        "token": court["token"],
        "region": court["region"],
        "run_id": run_id,
        "worker": 0,
    }
    reply = call_once(
        lr.FILE_CASE,
        {
            **base,
            "debtor_id": debtor["debtor_id"],
            "claim_fen": claim_fen,
            "claim_yuan": claim_fen / 100,
        },
    )
    case = {**base, "case_id": reply.values["case_id"]}
    reply = call_once(lr.SEND_QUERY, {**case, "channel": channel}, refusals_ok=True)
    if reply.result == "ok":
        call_once(lr.POLL_QUERY, {**case, "query_id": reply.values["query_id"]})
    if adapter.supports(lr.READ_CASE):
        reply = call_once(lr.READ_CASE, case)
        listing = adapter.spec.checks.case_controls
        if listing is not None and not _lists_controls(reply.body, listing):
            fail(
                lr.READ_CASE, adapter.call(lr.READ_CASE, case), seen[lr.READ_CASE]["status"],
                json.dumps(reply.body),
                f"should list the case's controls at '{listing.controls}' (checks.case_controls)",
            )  # fmt: skip
    for n, action in enumerate(c for c in lr.CONTROLS if adapter.supports(c)):
        variables = {
            **case,
            "asset_id": "chakong-preflight-none",
            "asset_type": "bank_deposit",
            "action": action,
            "key": f"{run_id}-preflight-{n}",
            "amount_fen": 100,
            "amount_yuan": 1.0,
        }
        call_once(action, variables, refusals_ok=True)
    if adapter.supports(lr.POLL_CONTROL):  # a control this court never made: 404 is fine
        variables = {**case, "control_id": 1, "asset_id": "chakong-preflight-none"}
        call_once(lr.POLL_CONTROL, {**variables, "action": "freeze"}, refusals_ok=True)
    return {"seconds": round(time.perf_counter() - began, 3), "calls": seen}
