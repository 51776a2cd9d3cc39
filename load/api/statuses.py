"""What the API can say, at a moment of its clock, of a request an agency has.

A control (``[api] controls = "scenario"``) or one agency's part of a query is
``accepted`` until the agency picks it up, then ``processing``; it ends ``done`` (or, for a
control, ``failed``, with the agency's reason) when the agency's answer arrives, or when the
API asked again after a retry and the agency had acted. In fault mode the API stops waiting
at a deadline: until an answer arrives the status is ``unknown``, never ``failed``: the
agency may well have acted. A control decided at once (``controls = "instant"``, or refused
by the rules) is ``done`` or ``refused`` from the start.
"""

from __future__ import annotations

from typing import Any

from load.api.agencies import NEVER


def control_status(c: Any, now: float) -> str:
    """The status of control row ``c`` (pickup_sim, act_sim, reply_sim, inquired_sim,
    deadline_sim, fate, status) at ``now``."""
    if c.pickup_sim is None:  # done or refused when it was made
        return str(c.status)
    if now < c.pickup_sim:
        return "accepted"
    known = [t for t in (c.reply_sim, c.inquired_sim) if t is not None]
    if known and now >= min(known) and now >= c.act_sim:
        return "done" if c.fate == "done" else "failed"
    if c.deadline_sim is not None and now >= c.deadline_sim:
        return "unknown"
    return "processing"


def control_state(c: Any, now: float) -> dict[str, Any]:
    """What a view of control row ``c`` says of it at ``now``: its status, and its outcome and
    amount once it has ended (done, failed or refused; none before)."""
    status = control_status(c, now)
    final = status in ("done", "failed", "refused")
    return {
        "status": status,
        "outcome": c.outcome if final else None,
        "amount_fen": c.amount_fen if final else None,
    }


def agency_status(pickup: float, reply: float | None, deadline: float | None, now: float) -> str:
    """The status of one agency's part of a query at ``now``."""
    if now < pickup:
        return "accepted"
    if reply is not None and reply < NEVER and now >= reply:
        return "done"
    if deadline is not None and now >= deadline:
        return "unknown"
    return "processing"


def query_status(agencies: list[str]) -> str:
    """A query is ``answered`` when every agency's part has ended (done or unknown),
    ``accepted`` while none has picked it up, else ``processing``."""
    if all(s in ("done", "unknown") for s in agencies):
        return "answered"
    if all(s == "accepted" for s in agencies):
        return "accepted"
    return "processing"
