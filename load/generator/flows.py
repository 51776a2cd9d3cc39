"""What a court does on the network, one request at a time: the flows of the load test.

A court files a case (``POST /v1/cases``), queries it over each channel its region uses
(``POST /v1/queries``), polls each query until answered (``GET /v1/queries/{id}``), freezes
what was found (``POST /v1/controls`` freeze), deducts from what it holds, renews and
unfreezes. Arrivals come from the open clock (:mod:`load.generator.open_clock`) already
labelled with a request kind drawn from the mix; :meth:`CourtFlows.next_step` turns the kind into a
concrete request on the state built so far, falling back along the flow when that state is
missing (no frozen asset to deduct from: freeze one; nothing found to freeze: poll; no
pending query: query; no case to query: file one), so the measured mix follows the
predicted one as closely as the flows allow, and the summary shows both.

Users check what they get back (violations, counted apart from HTTP errors):

- ``cap_breached``: a provident-fund deduction asking for more than the region's annual cap
  in one go (sent on purpose for ``over_cap_share`` of such deductions) was not refused;
- ``idempotency_replay``: a control sent again with the same ``Idempotency-Key`` and body
  (``replay_share`` of successful controls) did not come back as the same control.

Plain Python (no gevent): the state is touched only between requests, and the generator's
greenlets never switch inside these methods.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from load.generator.plan_file import DEDUCTIBLE, POLLS, Plan
from sim.demand import CASES, CONTROLS, QUERIES, request_kind
from sim.scenario.schema import AssetType

POOL_LIMIT = 5_000  # most items kept in each waiting list (older ones are forgotten)
REFUSAL_CODES = frozenset(
    {
        # the contract's refusals of POST /v1/controls
        "cap_exceeded",
        "not_frozen",
        "freeze_expired",
        "insufficient_balance",
        "offline_required",
        "stale_record",
        # and those the reference API documents beside them (its OpenAPI)
        "already_frozen",
        "exceeds_claim",
        "sale_required",
        "channel_unavailable",  # POST /v1/queries: no agency on that channel from the region
    }
)
CONTROLS_NAME = "POST /v1/controls"


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
    """One request to send, and what to check in its answer."""

    kind: str  # the request kind sent (as in chakong demand), e.g. "POST /v1/controls deduct"
    name: str  # Locust's name: the templated URL
    method: str
    path: str
    token: str
    body: dict[str, Any] | None = None
    idempotency_key: str | None = None
    check: str = ""  # "over_cap" | "replay" | ""
    expect_control: str | None = None  # replay: the control id the first answer gave
    subject: Any = None  # the Case, Holding or (query id, Case) the answer updates
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """How an answer is counted: ``ok``, ``refused`` (a 409 the contract allows, e.g.
    ``cap_exceeded``: the API enforcing a rule) or ``error``; and any violation."""

    result: str
    label: str = ""  # refusal code or error description
    violation: str = ""


class CourtFlows:
    """Every court of one worker process: their cases and holdings, and the next request."""

    def __init__(self, plan: Plan, seed: int, worker: int) -> None:
        self.plan = plan
        self.rng = np.random.default_rng([seed, worker, 1])
        self.worker = worker
        weights = np.array([c.weight for c in plan.courts], dtype=float)
        self.court_p = weights / weights.sum()
        self.to_query: dict[str, deque[Case]] = {}
        self.pending: deque[tuple[Any, Case]] = deque(maxlen=POOL_LIMIT)
        self.found: deque[Holding] = deque(maxlen=POOL_LIMIT)
        self.deductible: deque[Holding] = deque(maxlen=POOL_LIMIT)
        self.held: deque[Holding] = deque(maxlen=POOL_LIMIT)  # frozen, not deducted from
        self.done: deque[Holding] = deque(maxlen=POOL_LIMIT)  # deducted from: to release
        self.replays: deque[Step] = deque(maxlen=POOL_LIMIT)
        self.claim_i = 0
        self.keys = 0
        self.seen: set[tuple[Any, Any]] = set()  # (case, asset) found: freeze each once

    # ------------------------------------------------------------ choosing

    def next_step(self, kind: str) -> Step:
        """A concrete request for an arrival of ``kind``, falling back along the flow."""
        if kind.startswith(CONTROLS) and self.replays:
            return self.replays.popleft()
        if kind == request_kind(CONTROLS, "deduct"):
            step = self._deduct()
            if step is not None:
                return step
            kind = request_kind(CONTROLS, "freeze")
        elif kind in (request_kind(CONTROLS, "renew"), request_kind(CONTROLS, "unfreeze")):
            action = kind.split()[-1]
            holding = self._take_frozen(action)
            if holding is not None:
                return self._control(action, holding)
            kind = request_kind(CONTROLS, "freeze")
        if kind == request_kind(CONTROLS, "freeze"):
            if self.found:
                return self._control("freeze", self.found.popleft())
            kind = POLLS
        if kind == POLLS:
            if self.pending:
                query_id, case = self.pending.popleft()
                return Step(POLLS, POLLS, "GET", f"/v1/queries/{query_id}",
                            self._token(case), subject=(query_id, case))  # fmt: skip
            kind = self._query_kind()
        if kind.startswith(QUERIES):
            channel = kind.split()[-1]
            waiting = self.to_query.get(channel)
            if waiting:
                case = waiting.popleft()
                body = {"case_id": case.case_id, "channel": channel}
                return Step(kind, "POST /v1/queries", "POST", "/v1/queries", self._token(case),
                            body, subject=case)  # fmt: skip
        return self._file_case()

    def _query_kind(self) -> str:
        for channel, waiting in self.to_query.items():
            if waiting:
                return request_kind(QUERIES, channel)
        return CASES

    def _file_case(self) -> Step:
        plan = self.plan
        court_i = int(self.rng.choice(len(plan.courts), p=self.court_p))
        court = plan.courts[court_i]
        region = plan.regions[court.region]
        debtor = region.debtors[int(self.rng.integers(len(region.debtors)))]
        claim = region.claims_fen[self.claim_i % len(region.claims_fen)]
        self.claim_i += 1
        case = Case(None, court_i, court.region, claim)
        return Step(CASES, CASES, "POST", "/v1/cases", court.token,
                    {"debtor_id": debtor, "claim_fen": claim}, subject=case)  # fmt: skip

    def _take_frozen(self, action: str) -> Holding | None:
        if action == "unfreeze":  # release what was realised, or is not deducted from:
            for pool in (self.done, self.held):  # a deductible asset is deducted first
                if pool:
                    return pool.popleft()
            return None
        for pool in (self.held, self.deductible):  # renew: rotate through what is held
            if pool:
                return pool.popleft()
        return None

    def _deduct(self) -> Step | None:
        if not self.deductible:
            return None
        h = self.deductible.popleft()
        cap = self.plan.regions[h.case.region].cap_fen
        step = self._control("deduct", h)
        if (
            h.asset_type == AssetType.provident_fund
            and cap is not None
            and min(h.balance_fen, h.case.claim_left_fen) > cap + 100
            and self.rng.random() < self.plan.over_cap_share
        ):
            amount, step.check = cap + 100, "over_cap"  # one yuan over the year's cap
        else:
            limit = (
                cap // 4 if cap is not None and h.asset_type == AssetType.provident_fund else None
            )
            amount = min(h.balance_fen, h.case.claim_left_fen, limit or h.balance_fen)
        assert step.body is not None
        step.body["amount_fen"] = max(1, amount)
        return step

    def _control(self, action: str, h: Holding) -> Step:
        self.keys += 1
        key = f"w{self.worker}-{self.keys}"
        body = {"case_id": h.case.case_id, "asset_id": h.asset_id, "action": action}
        return Step(request_kind(CONTROLS, action), CONTROLS_NAME, "POST", "/v1/controls",
                    self._token(h.case), body, key, subject=h,
                    headers={"Idempotency-Key": key})  # fmt: skip

    def _token(self, case: Case) -> str:
        return self.plan.courts[case.court].token

    # ------------------------------------------------------------ answers

    def on_answer(self, step: Step, status: int, data: Any) -> Outcome:
        """Update the flows from an answer and classify it (status 0: no answer)."""
        if status == 409:
            code = data.get("code") if isinstance(data, dict) else None
            if step.check == "replay":
                return Outcome("refused", str(code), "idempotency_replay")
            if code in REFUSAL_CODES:
                self._refused(step, code)
                return Outcome("refused", code)
            return Outcome("error", f"409 {code}")
        if not 200 <= status < 300:
            if step.check == "replay" and status:
                return Outcome("error", f"{status}", "idempotency_replay")
            return Outcome("error", str(status) if status else "no answer")
        if not isinstance(data, dict):
            return Outcome("error", f"{status} not a JSON object")
        try:
            return self._ok(step, data)
        except (KeyError, TypeError, ValueError) as exc:
            return Outcome("error", f"{status} unexpected body ({type(exc).__name__}: {exc})")

    def _ok(self, step: Step, data: dict[str, Any]) -> Outcome:
        if step.kind == CASES:
            case: Case = step.subject
            case.case_id = data["case_id"]
            shares = self.plan.regions[case.region].channel_share
            for channel, share in shares.items():
                if share > 0:
                    self.to_query.setdefault(channel, deque(maxlen=POOL_LIMIT)).append(case)
            return Outcome("ok")
        if step.kind.startswith(QUERIES):
            self.pending.append((data["query_id"], step.subject))
            return Outcome("ok")
        if step.kind == POLLS:
            query_id, case = step.subject
            if data["status"] == "answered":
                for f in data.get("findings") or []:
                    key = (case.case_id, f["asset_id"])
                    if f.get("asset_type") == AssetType.e_asset or key in self.seen:
                        continue  # one asset found over two channels is frozen once
                    self.seen.add(key)
                    self.found.append(Holding(case, f["asset_id"], str(f["asset_type"]),
                                              str(f.get("channel", "")),
                                              int(f.get("balance_fen") or 0)))  # fmt: skip
            else:
                self.pending.append((query_id, case))
            return Outcome("ok")
        control = data["control_id"]
        if step.check == "replay":
            ok = control == step.expect_control
            return Outcome("ok", violation="" if ok else "idempotency_replay")
        action = step.kind.split()[-1]
        h: Holding = step.subject
        if action in ("freeze", "renew"):
            if isinstance(data.get("held_fen"), int):  # what the freeze holds, per the API
                h.balance_fen = data["held_fen"]
            pool = self.deductible if AssetType(h.asset_type) in DEDUCTIBLE else self.held
            pool.append(h)
        elif action == "deduct":
            amount = step.body["amount_fen"] if step.body else 0
            h.balance_fen -= amount
            h.case.claim_left_fen -= amount
            pool = self.deductible if h.balance_fen > 0 and h.case.claim_left_fen > 0 else self.done
            pool.append(h)
        self._maybe_replay(step, control)
        if step.check == "over_cap":
            return Outcome("ok", violation="cap_breached")
        return Outcome("ok")

    def _maybe_replay(self, step: Step, control: str) -> None:
        if self.rng.random() < self.plan.replay_share:
            again = Step(step.kind, step.name, step.method, step.path, step.token,
                         dict(step.body or {}), step.idempotency_key, "replay", control,
                         headers=dict(step.headers))  # fmt: skip
            self.replays.append(again)

    def _refused(self, step: Step, code: str) -> None:
        """After a refusal the holding goes where its state says (a deduction refused for
        the cap stays frozen; an unfreeze or lapse lets it go)."""
        h = step.subject
        if not isinstance(h, Holding):
            return
        action = step.kind.split()[-1]
        if code in ("cap_exceeded", "insufficient_balance") and action == "deduct":
            self.done.append(h)
