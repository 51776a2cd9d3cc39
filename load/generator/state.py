"""What the court flows hold between requests: cases, holdings, the next request, answers.

Plain data (no Locust, no gevent), shared by :mod:`load.generator.flows` (which requests to
send) and :mod:`load.generator.controls` (controls an agency still has).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from load.target.adapter import Call


@dataclass
class Case:
    case_id: Any  # as the API gave it (a number or a string): sent back as it came
    court: int  # index into the plan's courts
    region: str
    claim_left_fen: int


@dataclass
class Holding:
    """An asset found for a case (a finding), then frozen."""

    case: Case
    asset_id: Any
    asset_type: str
    channel: str
    balance_fen: int


@dataclass
class Step:
    """One logical request to send, and what to check in its answer."""

    logical: str  # what is sent: file_case, send_query, ..., deduct, poll_control
    call: Call
    variables: dict[str, Any]
    subject: Any = None  # the Case, Holding, (query id, Case) or Tracked the answer updates
    # "over_cap" | "replay" (same key again: same id?) | "retry" (a control whose fate is
    # unknown, sent again with its key) | "resend" (a control that got no answer) | ""
    check: str = ""
    expect_id: Any = None  # replay, retry: the id the first answer gave
    attempt: int = 0  # resend: how many times it was sent before

    @property
    def name(self) -> str:
        return self.call.name


@dataclass
class Outcome:
    """How an answer is counted: ``ok``, ``refused`` (a documented refusal: the API
    enforcing a rule) or ``error``; and any violation."""

    result: str
    label: str = ""
    violation: str = ""
