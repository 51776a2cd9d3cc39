"""What the admin token may do besides reconciling: verify the audit log, hand an auditor a
checkpoint, and move the simulated clock forward.

- :func:`verify_audit`: every chain recomputed with the audit key, and held against a
  signed checkpoint (the server's own file, or one an auditor kept and sends back);
- :func:`checkpoint_now`: a signed checkpoint of the chains' heads as they stand;
- :func:`advance_clock`: the clock moved forward (never back) for every worker at once, and
  kept for a restart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from load.api import audit, checkpoint
from load.api.audit import Batch, Entry
from load.api.checkpoint import CheckpointFile
from load.api.schema import meta
from load.api.world import World

MAX_ADVANCE_DAYS = 3650.0
OFFSET = "clock_offset_days"


def verify_audit(
    conn: Connection, world: World, kept: CheckpointFile, given: Any | None = None
) -> dict[str, Any]:
    """The chains verified with the key, and held against ``given`` (an auditor's
    checkpoint) or else the server's own checkpoint file."""
    v = audit.verify_chains(conn, world.audit_key)
    cp = given if given is not None else kept.read()
    sealed = 0
    if cp is None:
        against = "none"
    else:
        bad = checkpoint.problems_with(world.audit_key, cp)
        for problem in bad:
            v.problem(None, problem, first=True)
        if not bad:
            sealed = checkpoint.hold_against(v, cp)
        against = str(cp.get("at_utc")) if isinstance(cp, dict) else "?"
    return {
        "ok": v.problem_count == 0,
        "entries": v.entries,
        "refused": v.refused,
        "first_bad": v.first_bad,
        "sealed": sealed,
        "unsealed": v.entries - sealed,
        "checkpoint": against,
        "problem_count": v.problem_count,
        "problems": v.problems,
    }


def checkpoint_now(conn: Connection, world: World) -> dict[str, Any]:
    return checkpoint.sign(world.audit_key, audit.heads(conn))


def advance_clock(conn: Connection, world: World, days: float) -> float:
    """Move the clock forward by ``days`` in the database (inside a write transaction, the
    offset's row locked); the new offset, for the caller to share once committed."""
    key = meta.c.key == OFFSET
    stored = conn.execute(select(meta.c.value).where(key).with_for_update()).scalar()
    offset = (0.0 if stored is None else float(stored)) + days
    if stored is None:
        conn.execute(insert(meta).values(key=OFFSET, value=repr(offset)))
    else:
        conn.execute(update(meta).where(key).values(value=repr(offset)))
    now = world.clock.now() + days
    batch = Batch()
    action = "POST /v1/admin/clock"
    batch.add(Entry(now, "admin", action, "clock", f"advanced:{days:g}"))
    batch.write(conn, world.audit_key)
    return offset
