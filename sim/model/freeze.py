"""Freezes: controls against the records a query returned.

An online freeze takes hold after the link's control latency; a freeze the channel cannot
do online is done by an officer in person (the case pays for the officer's stint before
this is called). A control against a wrong or stale record fails (``freeze_failed``) and the
officer must redo it after a fresh query.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.model.network import Finding


@dataclass(slots=True)
class Hold:
    """A freeze that took hold of an asset at time ``at``."""

    finding: Finding
    at: float


@dataclass(slots=True)
class Failure:
    """A control that failed at time ``at`` because the record was wrong."""

    finding: Finding
    at: float


def needs_officer(finding: Finding) -> bool:
    return not finding.via.link.online_freeze


def apply_freezes(
    targets: list[Finding], started: float, officer_done: float
) -> tuple[list[Hold], list[Failure]]:
    """Outcomes of freezing every target: online ones from ``started`` plus the control
    latency, in-person ones when the officer's stint ended at ``officer_done``."""
    holds: list[Hold] = []
    failures: list[Failure] = []
    for f in targets:
        at = officer_done if needs_officer(f) else started + f.via.control_latency()
        if f.wrong:
            failures.append(Failure(f, at))
        else:
            holds.append(Hold(f, at))
    return holds, failures
