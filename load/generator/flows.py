"""What a court does on the network, one logical request at a time: the flows of a load run.

A court files a case, queries it over each channel its region uses, polls each query until
answered, freezes what was found, deducts from what it holds, renews and unfreezes; it may
read its case. Arrivals come from the open clock (:mod:`load.generator.open_clock`) already
labelled with a logical request drawn from the simulated mix, and :meth:`CourtFlows.next_step`
turns it into *that* request on the state the run has built: each kind is driven at its own
rate. So that the state is there from the first arrival, the worker primes it before the
clock starts (cases filed, queried and answered, some assets frozen); state is recycled
(an asset unfrozen may be frozen again, an answered query polled again, a case queried
again), so a kind runs short only when the target gives too little back. Only then does an
arrival fall back along the flow (nothing frozen to deduct from: freeze; nothing found to
freeze: poll; no query: send one; no case: file one), counted as a substitution; the mix
check in the summary judges what was really sent.

A control an agency still has (answered ``accepted``) keeps its holding out of every pool
until it is final, so no second control is sent on it; ``poll_control`` arrivals follow it
(:mod:`load.generator.controls`: done, failed, refused; ``unknown`` is never failed: the
control is sent again with its key and polled on). Once done, ``held_fen`` is what a
freeze holds and ``amount_fen`` what a deduction moved; a freeze that holds nothing waits
in line (轮候) and is polled until it holds money, never deducted from before.

How a logical request is sent and read is the target adapter's business
(:mod:`load.target.adapter`). Users check what they get back (violations, counted apart
from HTTP errors), when the adapter declares what to check:

- ``cap_breached``: a provident-fund deduction asking for more than the region's annual cap
  in one go (sent on purpose for ``over_cap_share`` of such deductions) was not refused
  with the adapter's ``checks.over_cap_code``;
- ``idempotency_replay``: a control sent again with the same key and body (``replay_share``
  of successful controls, and every control sent again because its fate was ``unknown``)
  did not come back with the same ``checks.replay_id``;
- after the run, ``control_lost``, ``control_doubled``, ``status_changed`` and
  ``recovered_mismatch`` from the case check (:meth:`CourtFlows.verify_case`).

Idempotency keys carry the run's id, so two runs against one database never share a key.
Plain Python (no gevent): the state is touched only between requests.
"""

from __future__ import annotations

import contextlib
from collections import Counter, deque
from typing import Any

import numpy as np

from load.generator.controls import ControlBook, Tracked
from load.generator.plan_file import DEDUCTIBLE, Plan
from load.generator.state import Case, Holding, Outcome, Step
from load.target import logical as lr
from load.target.adapter import Adapter, Reply, dig

__all__ = ["Case", "CourtFlows", "Holding", "Outcome", "Step"]

POOL_LIMIT = 5_000  # most items kept in each waiting list (older ones are forgotten)
E_ASSET = "e_asset"


class CourtFlows:
    """Every court of one worker process: their cases and holdings, and the next request."""

    def __init__(self, plan: Plan, adapter: Adapter, tokens: dict[str, str], worker: int) -> None:
        self.plan = plan
        self.adapter = adapter
        self.tokens = tokens  # court id -> token (from the fixtures, never from the plan)
        self.rng = np.random.default_rng([plan.seed, worker, 1])
        self.worker = worker
        weights = np.array([c.weight for c in plan.courts], dtype=float)
        self.court_p = weights / weights.sum()
        self.cases: deque[Case] = deque(maxlen=POOL_LIMIT)  # filed, with an id
        self.to_query: dict[str, deque[Case]] = {}
        self.pending: deque[tuple[Any, Case]] = deque(maxlen=POOL_LIMIT)
        self.answered: deque[tuple[Any, Case]] = deque(maxlen=POOL_LIMIT)
        self.found: deque[Holding] = deque(maxlen=POOL_LIMIT)
        self.deductible: deque[Holding] = deque(maxlen=POOL_LIMIT)
        self.held: deque[Holding] = deque(maxlen=POOL_LIMIT)  # frozen, not deducted from
        self.done: deque[Holding] = deque(maxlen=POOL_LIMIT)  # deducted from: to release
        self.replays: deque[Step] = deque(maxlen=POOL_LIMIT)
        self.book = ControlBook()  # controls the agencies still have, and what was seen
        self.claim_i = 0
        self.keys = 0
        self.seen: set[tuple[Any, Any]] = set()  # (case, asset) found: kept once
        checks = adapter.spec.checks
        self.over_cap_code = checks.over_cap_code
        self.replay_id = checks.replay_id
        self.follows = adapter.poll_control is not None  # controls may stay with the agency

    # ------------------------------------------------------------ state

    def frozen(self) -> int:
        return len(self.deductible) + len(self.held) + len(self.done)

    def unqueried(self) -> int:
        """Cases filed and not yet queried over some channel of their region."""
        return sum(len(q) for q in self.to_query.values())

    def stock(self) -> dict[str, int]:
        return {
            "cases": len(self.cases),
            "pending": len(self.pending),
            "answered": len(self.answered),
            "found": len(self.found),
            "frozen": self.frozen(),
            "in_flight": self.book.in_flight(),
            "waiting": self.book.waiting(),
        }

    # ------------------------------------------------------------ choosing

    def next_step(self, kind: str) -> Step:
        """A request for an arrival of ``kind``: that kind whenever the state allows,
        else a fallback along the flow. A control due again (its fate unknown, or no
        answer came) goes first on an arrival of its own action."""
        if kind in lr.CONTROLS:
            again = self.book.take(kind)
            if again is not None:
                return again
            if self.replays:
                return self.replays.popleft()
        for k in _chain(kind):
            if not self.adapter.supports(k):
                continue
            step = getattr(self, f"_{k}")()
            if step is not None:
                return step
        return self._file_case()

    def due_again(self) -> Step | None:
        """Any control due to be sent again (priming sends them before anything else)."""
        action = self.book.due_action()
        return None if action is None else self.book.take(action)

    def _file_case(self) -> Step:
        plan = self.plan
        court_i = int(self.rng.choice(len(plan.courts), p=self.court_p))
        court = plan.courts[court_i]
        region = plan.regions[court.region]
        debtor = region.debtors[int(self.rng.integers(len(region.debtors)))]
        claim = region.claims_fen[self.claim_i % len(region.claims_fen)]
        self.claim_i += 1
        case = Case(None, court_i, court.region, claim)
        return self._step(
            lr.FILE_CASE, case, debtor_id=debtor, claim_fen=claim, claim_yuan=claim / 100
        )

    def _send_query(self) -> Step | None:
        waiting = [c for c, q in self.to_query.items() if q]
        if waiting:
            channel = waiting[int(self.rng.integers(len(waiting)))]
            case = self.to_query[channel].popleft()
        elif self.cases:  # query a known case again (as a court re-queries)
            case = self.cases[int(self.rng.integers(len(self.cases)))]
            shares = self.plan.regions[case.region].channel_share
            channels = [c for c, s in shares.items() if s > 0] or ["central"]
            channel = channels[int(self.rng.integers(len(channels)))]
        else:
            return None
        return self._step(lr.SEND_QUERY, case, case=case, channel=channel)

    def _poll_query(self) -> Step | None:
        if self.pending:
            query_id, case = self.pending.popleft()
        elif self.answered:  # read an answered query again
            query_id, case = self.answered.popleft()
        else:
            return None
        return self._step(lr.POLL_QUERY, (query_id, case), case=case, query_id=query_id)

    def _poll_control(self) -> Step | None:
        picked = self.book.next_poll()
        if picked is None:
            return None
        t, again = picked
        h = t.holding
        step = self._step(
            lr.POLL_CONTROL,
            t,
            case=h.case,
            control_id=t.control_id,
            asset_id=h.asset_id,
            action=t.action,
        )
        step.check = "reread" if again else ""
        return step

    def _read_case(self) -> Step | None:
        if not self.cases:
            return None
        case = self.cases[int(self.rng.integers(len(self.cases)))]
        return self._step(lr.READ_CASE, case, case=case)

    def check_case(self, case: Case) -> Step:
        """``read_case`` of a case the flows made controls on (after the run)."""
        return self._step(lr.READ_CASE, case, case=case)

    def verify_case(self, case: Case, body: Any) -> Counter | None:
        """The violations in a case's own list of its controls (None: it cannot be read
        as the adapter's ``checks.case_controls`` says)."""
        spec = self.adapter.spec.checks.case_controls
        assert spec is not None
        try:
            listed = {
                dig(item, spec.id): self.adapter.state_of(dig(item, spec.status))
                for item in dig(body, spec.controls)
            }
            recovered = None if spec.recovered_fen is None else dig(body, spec.recovered_fen)
        except (KeyError, TypeError):
            return None
        return self.book.verify(case.case_id, listed, recovered)

    def _freeze(self) -> Step | None:
        return self._control(lr.FREEZE, self.found.popleft()) if self.found else None

    def _unfreeze(self) -> Step | None:
        for pool in (self.done, self.held, self.deductible):  # what was realised first
            if pool:
                return self._control(lr.UNFREEZE, pool.popleft())
        return None

    def _renew(self) -> Step | None:
        for pool in (self.held, self.deductible):  # rotate through what is held
            if pool:
                return self._control(lr.RENEW, pool.popleft())
        return None

    def _deduct(self) -> Step | None:
        if not self.deductible:
            return None
        h = self.deductible.popleft()
        cap = self.plan.regions[h.case.region].cap_fen
        is_fund = h.asset_type == "provident_fund"
        over_cap = (
            self.over_cap_code is not None
            and is_fund
            and cap is not None
            and min(h.balance_fen, h.case.claim_left_fen) > cap + 100
            and self.rng.random() < self.plan.over_cap_share
        )
        if over_cap:
            assert cap is not None
            amount = cap + 100  # one yuan over the year's cap
        else:
            # part of what is held, so one freeze serves several deductions
            part = h.balance_fen // 2 if h.balance_fen > 200 else h.balance_fen
            limit = cap // 4 if cap is not None and is_fund else part
            amount = min(part, h.case.claim_left_fen, limit)
        step = self._control(lr.DEDUCT, h, amount=max(1, amount))
        step.check = "over_cap" if over_cap else ""
        return step

    def _control(self, action: str, h: Holding, amount: int | None = None) -> Step:
        self.keys += 1
        key = f"{self.plan.run_id}-w{self.worker}-{self.keys}"
        extra: dict[str, Any] = {"amount_fen": amount, "amount_yuan": None}
        if amount is not None:
            extra["amount_yuan"] = amount / 100
        return self._step(
            action,
            h,
            case=h.case,
            asset_id=h.asset_id,
            asset_type=h.asset_type,
            action=action,
            key=key,
            **extra,
        )

    def _step(self, logical: str, subject: Any, case: Case | None = None, **values: Any) -> Step:
        court_case = case if case is not None else subject
        court = self.plan.courts[court_case.court]
        variables = {
            "court_id": court.court_id,
            "token": self.tokens.get(court.court_id, ""),
            "region": court.region,
            "run_id": self.plan.run_id,
            "worker": self.worker,
            **({"case_id": case.case_id} if case is not None else {}),
            **values,
        }
        return Step(logical, self.adapter.call(logical, variables), variables, subject)

    # ------------------------------------------------------------ answers

    def on_answer(self, step: Step, status: int, text: str | bytes | None) -> Outcome:
        """Update the flows from an answer and classify it (status 0: no answer)."""
        reply = self.adapter.read(step.logical, status, text, step.variables)
        if step.check in ("replay", "retry"):
            return self._replayed(step, reply)
        if step.logical == lr.POLL_CONTROL:
            return self._polled(step, reply)
        if step.check == "resend" and reply.result != "error":
            self.book.answered_at_last(step, step.subject)
        if reply.result == "refused":
            self._refused(step, reply)
            if step.check == "over_cap":
                ok = reply.label == self.over_cap_code
                return Outcome("refused", reply.label, "" if ok else "cap_breached")
            return Outcome("refused", reply.label)
        if reply.result == "error":
            self._lost(step, reply)
            return Outcome("error", reply.label)
        self._ok(step, reply)
        if step.check == "over_cap":
            return Outcome("ok", violation="cap_breached")
        return Outcome("ok")

    def _replayed(self, step: Step, reply: Reply) -> Outcome:
        """A control sent again with its key: the first answer's id must come back. Nothing
        in the flows changes (a retry's control is still followed by its polls)."""
        if isinstance(step.subject, Tracked):
            step.subject.retry_out = False
        if reply.label == "no answer":
            return Outcome("error", reply.label)
        got = None
        if reply.result in ("ok", "refused") and self.replay_id is not None:
            with contextlib.suppress(KeyError, TypeError):
                got = dig(reply.body, self.replay_id)
        same = got is not None and got == step.expect_id
        return Outcome(reply.result, reply.label, "" if same else "idempotency_replay")

    def _ok(self, step: Step, reply: Reply) -> None:
        k = step.logical
        if k == lr.FILE_CASE:
            case: Case = step.subject
            case.case_id = reply.values["case_id"]
            self.cases.append(case)
            for channel, share in self.plan.regions[case.region].channel_share.items():
                if share > 0:
                    self.to_query.setdefault(channel, deque(maxlen=POOL_LIMIT)).append(case)
        elif k == lr.SEND_QUERY:
            self.pending.append((reply.values["query_id"], step.subject))
        elif k == lr.POLL_QUERY:
            query_id, case = step.subject
            if not reply.answered:
                self.pending.append((query_id, case))
                return
            self.answered.append((query_id, case))
            for f in reply.findings:
                key = (case.case_id, f["asset_id"])
                if f.get("asset_type") == E_ASSET or key in self.seen:
                    continue  # one asset found over two channels is kept once
                self.seen.add(key)
                kind, channel = str(f.get("asset_type", "")), str(f.get("channel", ""))
                self.found.append(Holding(case, f["asset_id"], kind, channel, f["balance_fen"]))
        elif k in lr.CONTROLS:
            self._controlled(step, reply)

    def _controlled(self, step: Step, reply: Reply) -> None:
        """A control's answer: done at once, or with the agency (followed by polls)."""
        h: Holding = step.subject
        state = reply.state or lr.DONE
        t = self._tracked(step, h, reply, state)
        if t is not None and state in (lr.OPEN, lr.UNKNOWN):
            self.book.follow(t)
            if state == lr.UNKNOWN:
                self.book.retry(t)
        elif state == lr.FAILED:
            self._failed(step.logical, h, str(reply.values.get("outcome") or ""))
        elif state == lr.REFUSED:
            self._put_back(step.logical, h, str(reply.values.get("outcome") or ""))
        else:  # done (or with the agency, but the answer names no id to follow it by)
            self._done(t, step, h, reply.values)
        if self.replay_id is not None and self.rng.random() < self.plan.replay_share:
            try:
                expect = dig(reply.body, self.replay_id)
            except (KeyError, TypeError):
                return
            self.replays.append(
                Step(step.logical, step.call, step.variables, None, "replay", expect)
            )

    def _tracked(self, step: Step, h: Holding, reply: Reply, state: str) -> Tracked | None:
        """The control as the book keeps it, acknowledged (None: the answer names no id)."""
        if self.replay_id is None:
            return None
        try:
            control_id = dig(reply.body, self.replay_id)
        except (KeyError, TypeError):
            return None
        t = Tracked(control_id, step, h, state)
        self.book.acknowledged(t, self._amount(step, reply.values, state))
        return t

    @staticmethod
    def _amount(step: Step, values: dict[str, Any], state: str) -> int:
        """A deduction's money: what it moved once done, else what it asked for."""
        if step.logical != lr.DEDUCT:
            return 0
        moved = values.get("amount_fen")
        if state == lr.DONE and isinstance(moved, int):
            return moved
        return int(step.variables.get("amount_fen") or 0)

    def _done(self, t: Tracked | None, step: Step, h: Holding, values: dict[str, Any]) -> None:
        """A control done: ``held_fen`` is what the freeze holds now, ``amount_fen`` what a
        deduction moved. A freeze holding nothing waits in line (轮候): followed until it
        holds money, never deducted from before."""
        action = step.logical
        held = values.get("held_fen")
        if action in (lr.FREEZE, lr.RENEW):
            if isinstance(held, int):
                h.balance_fen = held
            if held == 0 and action == lr.FREEZE and t is not None and self.follows:
                self.book.waits(t)
                return
            if t is not None:
                self.book.took_effect(t)
            self._hold(h)
        elif action == lr.DEDUCT:
            amount = self._amount(step, values, lr.DONE)
            h.balance_fen = held if isinstance(held, int) else h.balance_fen - amount
            h.case.claim_left_fen -= amount
            useful = h.balance_fen > 0 and h.case.claim_left_fen > 0
            (self.deductible if useful else self.done).append(h)
        elif action == lr.UNFREEZE:
            self.found.append(h)  # released: it may be frozen again

    def _failed(self, action: str, h: Holding, reason: str) -> None:
        """A control the agency could not carry out: the holding goes back where its
        freeze now is (freeze it again, or release it)."""
        if action == lr.FREEZE or reason in ("not_frozen", "freeze_expired"):
            self.found.append(h)
        elif action == lr.DEDUCT:
            self.done.append(h)  # release it
        else:
            self._hold(h)

    def _polled(self, step: Step, reply: Reply) -> Outcome:
        """A poll of a control the agency has (or a re-read of a final one)."""
        t: Tracked = step.subject
        self.book.counts["polls"] += 1
        if step.check == "reread":
            self.book.counts["rereads"] += 1
            return Outcome(reply.result, reply.label)
        if reply.result != "ok":
            self.book.follow(t)  # poll it again later
            return Outcome(reply.result, reply.label)
        state = reply.state
        if t.waiting:  # a freeze waiting in line: does it hold money yet?
            held = reply.values.get("held_fen")
            if isinstance(held, int) and held > 0:
                self._done(t, t.step, t.holding, reply.values)
            else:
                self.book.follow(t)
            return Outcome("ok", state)
        self.book.seen(t, state, self._amount(t.step, reply.values, state))
        if state in (lr.OPEN, lr.UNKNOWN):
            self.book.follow(t)
            if state == lr.UNKNOWN:
                self.book.retry(t)  # never failed: ask again with its key, poll on
        elif state == lr.DONE:
            self._done(t, t.step, t.holding, reply.values)
        elif state == lr.FAILED:
            self._failed(t.action, t.holding, str(reply.values.get("outcome") or ""))
        else:  # refused
            self._put_back(t.action, t.holding, str(reply.values.get("outcome") or ""))
        return Outcome("ok", state)

    def _hold(self, h: Holding) -> None:
        (self.deductible if h.asset_type in DEDUCTIBLE else self.held).append(h)

    def _refused(self, step: Step, reply: Reply) -> None:
        """After a refusal the holding goes where its state says."""
        h = step.subject
        if not isinstance(h, Holding):
            return
        self._tracked(step, h, reply, lr.REFUSED)  # a refusal is a control too
        self._put_back(step.logical, h, reply.label)

    def _put_back(self, action: str, h: Holding, code: str) -> None:
        if code == "control_pending":  # another control of ours is with the agency
            (self.found.append if action == lr.FREEZE else self._hold)(h)
            return
        if action == lr.FREEZE:
            if code == "already_frozen":
                self._hold(h)
            return  # a record that cannot be frozen online, or a wrong one: let it go
        if code in ("not_frozen", "freeze_expired"):
            self.found.append(h)  # freeze it again
        elif action == lr.DEDUCT:
            self.done.append(h)  # the cap, the balance, the claim or a sale: release it
        elif action == lr.RENEW:
            self._hold(h)

    def _lost(self, step: Step, reply: Reply) -> None:
        """An error: put back what the request was about, so the flow can go on. A control
        with no acknowledgement may still have been made: it is counted, and one that got
        no answer at all is sent again with its key to learn its fate."""
        h = step.subject
        if isinstance(h, Holding):
            if step.logical in lr.CONTROLS:
                resend = reply.label == "no answer" and self.replay_id is not None
                if self.book.unanswered_control(step, h, resend):
                    return  # the holding waits for the answer to the resend
            if step.logical == lr.FREEZE:
                self.found.append(h)
            elif step.logical != lr.UNFREEZE:
                self._hold(h)
        elif step.logical == lr.POLL_QUERY:
            self.pending.append(step.subject)


_CHAINS = {
    lr.FILE_CASE: (lr.FILE_CASE,),
    lr.SEND_QUERY: (lr.SEND_QUERY, lr.FILE_CASE),
    lr.POLL_QUERY: (lr.POLL_QUERY, lr.SEND_QUERY, lr.FILE_CASE),
    lr.READ_CASE: (lr.READ_CASE, lr.FILE_CASE),
    lr.FREEZE: (lr.FREEZE, lr.POLL_QUERY, lr.SEND_QUERY, lr.FILE_CASE),
    lr.DEDUCT: (lr.DEDUCT, lr.FREEZE, lr.POLL_QUERY, lr.SEND_QUERY, lr.FILE_CASE),
    lr.UNFREEZE: (lr.UNFREEZE, lr.FREEZE, lr.POLL_QUERY, lr.SEND_QUERY, lr.FILE_CASE),
    lr.RENEW: (lr.RENEW, lr.FREEZE, lr.POLL_QUERY, lr.SEND_QUERY, lr.FILE_CASE),
    lr.POLL_CONTROL: (lr.POLL_CONTROL, lr.POLL_QUERY, lr.SEND_QUERY, lr.FILE_CASE),
}


def _chain(kind: str) -> tuple[str, ...]:
    return _CHAINS.get(kind, (lr.FILE_CASE,))
