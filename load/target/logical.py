"""chakong's logical requests: what a court does on the network, whatever the API's paths.

A load run draws each arrival's logical request from the simulated mix; a target adapter
(:mod:`load.target.adapter`) says which HTTP call carries it on a given deployment. Every
control action is a request of its own, so each has its own statistics and thresholds.

A control an agency carries out later (the reference API with ``[api] controls = "scenario"``)
is followed with ``poll_control`` until it is final: ``done``, ``failed`` (with the agency's
reason) or ``refused``. ``unknown`` (the API stopped waiting for the agency's answer) is
neither final nor failed: the flows send the control again with its key and keep polling.
"""

from __future__ import annotations

FILE_CASE = "file_case"
SEND_QUERY = "send_query"
POLL_QUERY = "poll_query"
READ_CASE = "read_case"
FREEZE = "freeze"
DEDUCT = "deduct"
UNFREEZE = "unfreeze"
RENEW = "renew"
POLL_CONTROL = "poll_control"
CONTROLS = (FREEZE, DEDUCT, UNFREEZE, RENEW)
LOGICAL = (FILE_CASE, SEND_QUERY, POLL_QUERY, READ_CASE, *CONTROLS, POLL_CONTROL)
REQUIRED = (FILE_CASE, SEND_QUERY, POLL_QUERY)  # an adapter without these cannot run flows
ALL = "all"  # every request of the run, beside each logical request

MEANING = {
    FILE_CASE: "a court files a case against a debtor (立案)",
    SEND_QUERY: "the court asks the network what the debtor owns, over one channel (查询)",
    POLL_QUERY: "the court reads a query's answers so far (反馈)",
    READ_CASE: "the court reads its case",
    FREEZE: "freeze an asset the case found (冻结/查封)",
    DEDUCT: "deduct from a frozen asset (划扣)",
    UNFREEZE: "release a freeze (解冻)",
    RENEW: "renew a freeze before it lapses (续冻)",
    POLL_CONTROL: "the court reads a control's state while the agency has it (控制反馈)",
}

# the variables a request's templates may use, beside every request's own
COMMON_VARS = frozenset({"court_id", "token", "region", "run_id", "worker"})
CONTROL_VARS = frozenset(
    {"case_id", "asset_id", "asset_type", "action", "key", "amount_fen", "amount_yuan"}
)
VARS = {
    FILE_CASE: frozenset({"debtor_id", "claim_fen", "claim_yuan"}),
    SEND_QUERY: frozenset({"case_id", "channel"}),
    POLL_QUERY: frozenset({"case_id", "query_id"}),
    READ_CASE: frozenset({"case_id"}),
    **dict.fromkeys(CONTROLS, CONTROL_VARS),
    POLL_CONTROL: frozenset({"case_id", "asset_id", "action", "control_id"}),
}

# what the flows make of a control's status (an adapter's words for it: poll_control)
DONE, FAILED, REFUSED, UNKNOWN, OPEN = "done", "failed", "refused", "unknown", "open"
FINAL = (DONE, FAILED, REFUSED)


def known(name: str) -> bool:
    return name in LOGICAL or name == ALL
