"""Controls an agency still has: followed until final, sent again when their fate is
unknown, and held against the case's own list after the run.

A control answered ``accepted`` (the reference API with ``[api] controls = "scenario"``)
stays with the agency for a while; its holding is kept out of every pool meanwhile, so no
second control is sent on it before the first is final. :class:`ControlBook` keeps such
controls in the order they were last polled: each ``poll_control`` arrival polls the one
polled longest ago (round robin over what is open, so each is polled about as often as
the plan's derived poll rate allows), or re-reads a recently final one when none is open
(so the poll rate of the mix is kept whatever the agencies do). A freeze done while it
waits in line (轮候, holding nothing) is followed the same way until it holds money.

``unknown`` is never ``failed``: the agency may well have acted. A control seen
``unknown`` is sent again with its key and body (a *retry*: the same reply comes back,
and the API asks the agency again) and polled on. A control that got no answer at all is
sent again likewise (a *resend*), to learn whether it was made.

The book also keeps, per case, every control acknowledged (its id, action, last state and
money) and how many control requests went unanswered, so :meth:`ControlBook.verify` can
hold the case's own list after the run against it: an acknowledged control missing
(``control_lost``), more controls listed than were acknowledged or left unanswered
(``control_doubled``), a final state the API later changed (``status_changed``: a control
the flows took as failed that the API says is done would be one), or recovered money
outside what the deductions acknowledged allow (``recovered_mismatch``).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from load.generator.state import Case, Holding, Step
from load.target import logical as lr

FINALS_KEPT = 200  # recently final controls kept for re-reads
RESEND_MAX = 3  # a control with no answer is sent at most this many times more


@dataclass
class Tracked:
    """A control the flows follow (or a final one kept for re-reads)."""

    control_id: Any
    step: Step  # the control as sent: a retry sends the same key and body
    holding: Holding
    state: str = lr.OPEN
    waiting: bool = False  # a freeze done while it waits in line: followed until it holds
    retry_out: bool = False  # a retry is due or in flight
    seen_unknown: bool = False

    @property
    def action(self) -> str:
        return self.step.logical


@dataclass
class Known:
    """One acknowledged control as the flows last saw it."""

    action: str
    state: str
    amount_fen: int  # a deduction: what it moved (done) or asked for (still open)


class ControlBook:
    """Every control of one worker's flows that is open, due again, or to be checked."""

    def __init__(self) -> None:
        self.following: deque[Tracked] = deque()  # open or waiting, least recently polled first
        self.finals: deque[Tracked] = deque(maxlen=FINALS_KEPT)
        self.due: dict[str, deque[Step]] = {}  # controls to send again, by action
        self.cases: dict[Any, dict[Any, Known]] = {}  # case id -> control id -> last seen
        self.case_of: dict[Any, Case] = {}  # case id -> the case (its court, for the check)
        self.unanswered: Counter = Counter()  # case id -> control requests not acknowledged
        self.unanswered_fen: Counter = Counter()  # case id -> money those deductions asked for
        self.counts: Counter = Counter()
        self.checked: Counter = Counter()  # cases and controls read after the run

    # ------------------------------------------------------------ following

    def in_flight(self) -> int:
        return sum(not t.waiting for t in self.following)

    def waiting(self) -> int:
        return sum(t.waiting for t in self.following)

    def follow(self, t: Tracked) -> None:
        self.following.append(t)

    def next_poll(self) -> tuple[Tracked, bool] | None:
        """The control polled longest ago, or a recently final one to read again (True)."""
        if self.following:
            return self.following.popleft(), False
        if self.finals:
            t = self.finals.popleft()
            self.finals.append(t)
            return t, True
        return None

    # ------------------------------------------------------------ what was seen

    def acknowledged(self, t: Tracked, amount_fen: int) -> None:
        """A control's first answer carrying its id (done, accepted or refused)."""
        case = t.holding.case
        self.case_of[case.case_id] = case
        known = self.cases.setdefault(case.case_id, {})
        state, t.state = t.state, lr.OPEN
        if t.control_id not in known:
            self.counts["acknowledged"] += 1
            if state in (lr.OPEN, lr.UNKNOWN):
                self.counts["accepted"] += 1
        known[t.control_id] = Known(t.action, lr.OPEN, amount_fen)
        self.seen(t, state, amount_fen)

    def seen(self, t: Tracked, state: str, amount_fen: int | None = None) -> None:
        """What a poll (or the control's answer) said of ``t``."""
        was = t.state
        t.state = state
        known = self.cases.get(t.holding.case.case_id, {}).get(t.control_id)
        if known is not None:
            known.state = state
            if amount_fen is not None:
                known.amount_fen = amount_fen
        if state == lr.UNKNOWN and not t.seen_unknown:
            t.seen_unknown = True
            self.counts["unknown_seen"] += 1
        if state in lr.FINAL and was not in lr.FINAL:
            self.counts[state] += 1
            if t.seen_unknown:
                self.counts[f"unknown_then_{state}"] += 1
            self.finals.append(t)

    def waits(self, t: Tracked) -> None:
        """A freeze done but holding nothing yet (轮候): followed until it holds money."""
        if not t.waiting:
            t.waiting = True
            self.counts["waiting"] += 1
        self.follow(t)

    def took_effect(self, t: Tracked) -> None:
        if t.waiting:
            self.counts["waiting_took_effect"] += 1
            t.waiting = False

    # ------------------------------------------------------------ sending again

    def retry(self, t: Tracked) -> None:
        """``t`` is ``unknown``: send it again with its key and body (once at a time)."""
        if t.retry_out:
            return
        t.retry_out = True
        s = t.step
        self._queue(Step(s.logical, s.call, s.variables, t, "retry", t.control_id))
        self.counts["retried"] += 1

    def unanswered_control(self, step: Step, holding: Holding, resend: bool) -> bool:
        """A control request that got no acknowledgement: counted (the API may hold it, at
        most once). With ``resend`` (no answer came at all) it is sent again with its key,
        up to :data:`RESEND_MAX` times: True then (the holding waits for that answer)."""
        case_id = holding.case.case_id
        self.case_of[case_id] = holding.case
        if step.check != "resend":  # counted once, however often it is sent again
            self.unanswered[case_id] += 1
            if step.logical == lr.DEDUCT:
                self.unanswered_fen[case_id] += int(step.variables.get("amount_fen") or 0)
        if not resend or step.attempt >= RESEND_MAX:
            return False
        again = Step(step.logical, step.call, step.variables, holding, "resend")
        again.attempt = step.attempt + 1
        self._queue(again)
        self.counts["resent"] += 1
        return True

    def answered_at_last(self, step: Step, holding: Holding) -> None:
        """A resent control was answered: it is acknowledged, no longer unanswered."""
        case_id = holding.case.case_id
        self.unanswered[case_id] -= 1
        if step.logical == lr.DEDUCT:
            self.unanswered_fen[case_id] -= int(step.variables.get("amount_fen") or 0)

    def _queue(self, step: Step) -> None:
        self.due.setdefault(step.logical, deque()).append(step)

    def take(self, action: str) -> Step | None:
        """A control of ``action`` to send again, if one is due."""
        q = self.due.get(action)
        return q.popleft() if q else None

    def due_action(self) -> str | None:
        return next((a for a, q in self.due.items() if q), None)

    # ------------------------------------------------------------ after the run

    def to_check(self, limit: int) -> list[Case]:
        """The cases to read after the run (every one with a control, evenly thinned to
        ``limit``)."""
        cases = list(self.case_of.values())
        if len(cases) <= limit:
            return cases
        step = len(cases) / limit
        return [cases[int(i * step)] for i in range(limit)]

    def verify(self, case_id: Any, listed: dict[Any, str], recovered_fen: int | None) -> Counter:
        """Violations of one case: ``listed`` is control id -> state as the case lists them."""
        known = self.cases.get(case_id, {})
        found: Counter = Counter()
        for cid, k in known.items():
            if cid not in listed:
                found["control_lost"] += 1
            elif k.state in lr.FINAL and listed[cid] != k.state:
                found["status_changed"] += 1
        extra = sum(cid not in known for cid in listed)
        if extra > self.unanswered[case_id]:
            found["control_doubled"] += extra - self.unanswered[case_id]
        if recovered_fen is not None:
            deductions = [k for k in known.values() if k.action == lr.DEDUCT]
            done = sum(k.amount_fen for k in deductions if k.state == lr.DONE)
            open_ = sum(k.amount_fen for k in deductions if k.state in (lr.OPEN, lr.UNKNOWN))
            if not done <= recovered_fen <= done + open_ + self.unanswered_fen[case_id]:
                found["recovered_mismatch"] += 1
        self.checked["cases"] += 1
        self.checked["controls"] += len(listed)
        return found

    def report(self) -> dict[str, int]:
        out = dict(self.counts)
        out["open_at_end"] = self.in_flight()
        out["waiting_at_end"] = self.waiting()
        return out
