"""Controls an agency has, as the flows follow them (no network): accepted, polled, done,
failed, unknown and sent again, waiting in line; the case check after the run; the polls
the plan derives from the scenario."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from load.generator.controls import ControlBook, Tracked
from load.generator.flows import Case, CourtFlows, Holding, Step
from load.harness import polls
from load.harness.plan import build_mix
from load.target import logical as lr
from load.target.adapter import load_adapter
from tests.conftest import BASELINE
from tests.load.load_stub import FOREIGN
from tests.load.test_load_units import flows_of

REFERENCE = load_adapter()


def holding(flows: CourtFlows, asset: str = "A1", kind: str = "bank_deposit", fen=50_000):
    case = flows._file_case().subject
    case.case_id = 1
    return Holding(case, asset, kind, "central", fen)


def accepted(control_id: int, action: str = "freeze", amount: int | None = None) -> str:
    return json.dumps(
        {"control_id": control_id, "status": "accepted", "action": action, "amount_fen": amount}
    )


def state(status: str, **kw) -> str:
    return json.dumps({"control_id": 0, "status": status, "outcome": None, **kw})


def pools(flows: CourtFlows) -> dict[str, int]:
    return {k: len(getattr(flows, k)) for k in ("found", "deductible", "held", "done")} | {
        "following": len(flows.book.following)
    }


def test_an_accepted_control_is_followed_until_done_and_its_holding_kept_out_meanwhile():
    flows = flows_of()
    flows.found.append(holding(flows))
    step = flows.next_step("freeze")
    assert flows.on_answer(step, 202, accepted(5)).result == "ok"
    assert pools(flows) == {"found": 0, "deductible": 0, "held": 0, "done": 0, "following": 1}
    assert flows.next_step("deduct").logical == "file_case"  # nothing held yet: no control on it
    poll = flows.next_step("poll_control")
    assert poll.call.url == "/v1/controls/5" and poll.call.name == "GET /v1/controls/{id}"
    assert flows.on_answer(poll, 200, state("processing")).label == "open"
    assert flows.book.in_flight() == 1
    poll = flows.next_step("poll_control")
    flows.on_answer(poll, 200, state("done", outcome="frozen", held_fen=42_000))
    assert pools(flows)["deductible"] == 1 and flows.deductible[0].balance_fen == 42_000
    step = flows.next_step("deduct")
    assert step.call.body["amount_fen"] == 21_000  # half of what the freeze holds
    flows.on_answer(step, 202, accepted(6, "deduct", 21_000))
    poll = flows.next_step("poll_control")
    # done: amount_fen is what moved, held_fen what the freeze holds now
    done = state("done", outcome="deducted", amount_fen=20_000, held_fen=22_000)
    flows.on_answer(poll, 200, done)
    h = flows.deductible[0]
    assert (h.balance_fen, h.case.claim_left_fen) == (22_000, 100_000 - 20_000)
    counts = flows.book.counts
    assert (counts["acknowledged"], counts["accepted"], counts["done"]) == (2, 2, 2)
    # nothing open: a poll_control arrival reads a final control again (the mix is kept)
    again = flows.next_step("poll_control")
    assert again.logical == "poll_control" and again.check == "reread"
    flows.on_answer(again, 200, state("done"))
    assert flows.book.counts["rereads"] == 1 and pools(flows)["deductible"] == 1


def test_unknown_is_never_failed_the_control_is_sent_again_with_its_key_and_polled_on():
    flows = flows_of()
    flows.found.append(holding(flows))
    first = flows.next_step("freeze")
    flows.on_answer(first, 202, accepted(7))
    poll = flows.next_step("poll_control")
    assert flows.on_answer(poll, 200, state("unknown")).label == "unknown"
    assert pools(flows) == {"found": 0, "deductible": 0, "held": 0, "done": 0, "following": 1}
    assert flows.book.counts["unknown_seen"] == 1 and flows.book.counts["failed"] == 0
    assert flows.next_step("deduct").logical != "freeze"  # a retry waits for its own action
    retry = flows.next_step("freeze")  # the same key and body, before anything new
    assert retry.check == "retry" and retry.call == first.call
    assert flows.on_answer(retry, 202, accepted(7)).violation == ""  # the same bytes
    poll = flows.next_step("poll_control")
    flows.on_answer(poll, 200, state("unknown"))  # still unknown: sent again once more
    retry = flows.next_step("freeze")
    assert retry.check == "retry"
    assert flows.on_answer(retry, 202, accepted(8)).violation == "idempotency_replay"
    poll = flows.next_step("poll_control")
    flows.on_answer(poll, 200, state("done", outcome="frozen", held_fen=1))
    counts = flows.book.counts
    assert (counts["unknown_then_done"], counts["retried"], counts["failed"]) == (1, 2, 0)


@pytest.mark.parametrize(
    ("action", "reason", "pool"),
    [
        ("freeze", "agency_failed", "found"),  # freeze it again
        ("deduct", "agency_failed", "done"),  # release it
        ("unfreeze", "not_frozen", "found"),  # the freeze ended meanwhile
        ("renew", "freeze_expired", "found"),
    ],
)
def test_a_failed_control_returns_its_holding_to_found_or_done(action, reason, pool):
    flows = flows_of()
    h = holding(flows)
    step = flows._control(action, h, amount=100 if action == "deduct" else None)
    flows.on_answer(step, 202, accepted(3, action))
    poll = flows.next_step("poll_control")
    flows.on_answer(poll, 200, state("failed", outcome=reason))
    assert pools(flows)[pool] == 1 and sum(pools(flows).values()) == 1
    assert flows.book.counts["failed"] == 1


def test_a_waiting_freeze_is_polled_until_it_holds_money_and_never_deducted_from_before():
    flows = flows_of()
    flows.found.append(holding(flows))
    step = flows.next_step("freeze")
    # instant mode: done at once, waiting in line (轮候), holding nothing
    done = {"control_id": 4, "status": "done", "outcome": "waiting", "held_fen": 0}
    flows.on_answer(step, 201, json.dumps(done))
    assert flows.book.waiting() == 1 and not flows.deductible
    assert flows.next_step("deduct").logical != "deduct"
    poll = flows.next_step("poll_control")
    flows.on_answer(poll, 200, state("done", outcome="waiting", held_fen=0))
    assert flows.book.waiting() == 1
    poll = flows.next_step("poll_control")
    flows.on_answer(poll, 200, state("done", outcome="waiting", held_fen=9_000))
    assert flows.book.waiting() == 0 and flows.deductible[0].balance_fen == 9_000
    counts = flows.book.counts
    assert (counts["waiting"], counts["waiting_took_effect"]) == (1, 1)


def test_control_pending_is_a_documented_refusal_and_the_holding_waits():
    flows = flows_of()
    h = holding(flows)
    step = flows._control("deduct", h, amount=100)
    body = {"code": "control_pending", "detail": "", "control_id": 12}
    assert flows.on_answer(step, 409, json.dumps(body)).result == "refused"
    assert pools(flows)["deductible"] == 1
    assert flows.book.cases[1][12].state == "refused"  # a refusal is a control too


def test_a_control_with_no_answer_is_sent_again_with_its_key():
    flows = flows_of()
    flows.found.append(holding(flows))
    first = flows.next_step("freeze")
    assert flows.on_answer(first, 0, None).result == "error"
    assert flows.book.unanswered[1] == 1 and not flows.found  # it may have been made
    again = flows.next_step("freeze")
    assert again.check == "resend" and again.call == first.call
    flows.on_answer(again, 202, accepted(9))
    assert flows.book.unanswered[1] == 0 and flows.book.in_flight() == 1


def test_without_poll_control_every_control_is_final_when_answered():
    foreign = load_adapter(FOREIGN / "adapter.toml")
    assert foreign.poll_control is None
    assert foreign.control_state({"data": {"state": "ACCEPTED"}}) == lr.DONE
    assert REFERENCE.control_state({"status": "accepted"}) == lr.OPEN
    assert REFERENCE.control_state({"status": "unknown"}) == lr.UNKNOWN
    assert REFERENCE.control_state({"control_id": 3}) == lr.DONE  # no status: decided at once


def test_the_case_check_finds_lost_doubled_changed_controls_and_money_out_of_bounds():
    book = ControlBook()
    case = Case(1, 0, "r", 100_000)
    h = Holding(case, "A1", "bank_deposit", "central", 50_000)
    call = REFERENCE.call("deduct", {"token": "t", "key": "k", "case_id": 1, "asset_id": "A1",
                                     "amount_fen": 300})  # fmt: skip
    deduct = Step("deduct", call, {"amount_fen": 300})
    for cid, st, amount in ((1, lr.DONE, 1_000), (2, lr.FAILED, 0), (3, lr.OPEN, 300)):
        book.acknowledged(Tracked(cid, deduct, h, st), amount)
    listed = {1: "done", 2: "failed", 3: "processing"}
    assert book.verify(1, {k: REFERENCE.state_of(v) for k, v in listed.items()}, 1_000) == Counter()
    assert book.verify(1, {1: "done", 2: "failed", 3: "open"}, 1_300) == Counter()  # 3 acted
    assert book.verify(1, {1: "done", 3: "open"}, 1_000) == Counter(control_lost=1)
    assert book.verify(1, {1: "done", 2: "done", 3: "open"}, 1_000) == Counter(status_changed=1)
    extra = {1: "done", 2: "failed", 3: "open", 4: "done"}
    assert book.verify(1, extra, 1_000) == Counter(control_doubled=1)
    book.unanswered[1] += 1  # one request got no answer: it may be the fourth, once
    assert book.verify(1, extra, 1_000) == Counter()
    assert book.verify(1, listed, 2_000) == Counter(recovered_mismatch=1)
    assert book.verify(1, listed, 999) == Counter(recovered_mismatch=1)


def test_polls_per_control_are_derived_from_the_scenarios_control_latency():
    from load.generator.plan_file import CourtPlan
    from sim.scenario import load_scenario

    courts = [CourtPlan("hunan-1", "hunan", 1.0), CourtPlan("liaoning-1", "liaoning", 2.0)]
    demand = {"controls_per_day_by_asset": {"freeze": {"bank_deposit": {"mean": 1.0}}}}

    def derive(*overrides: str, interval: float = 2.0, scale: float = 2.0):
        scenario = load_scenario(BASELINE, list(overrides)).scenario
        return polls.derive(scenario, demand, courts, interval_s=interval, time_scale=scale,
                            duration_s=600, seed=1, samples=400)  # fmt: skip

    instant = derive("api.controls=instant")
    assert instant.per_control == polls.MIN_PER_CONTROL and "decided at once" in instant.note()
    rate = derive("api.controls=scenario")
    # banks poll every 30 minutes around the clock; the central link acts in 0.1-2 days,
    # answers in about 0.02: a little over a simulated day on average
    assert 1.0 < rate.latency_days < 1.2 and rate.latency_s == pytest.approx(
        2 * rate.latency_days, rel=0.01
    )
    assert rate.per_control == pytest.approx(rate.latency_s / 2 + 0.5, abs=0.15)
    assert "derived, not simulated" in rate.note()
    often = derive("api.controls=scenario", interval=0.5)
    assert often.per_control > 3 * rate.per_control / 2
    slow = derive("api.controls=scenario", "api.faults.lost_reply_probability=0.5")
    assert slow.faults and slow.latency_days > rate.latency_days  # unknown until asked again
    mix, _ = build_mix({"file_case": 0.5, "freeze": 0.5}, 0, polls_per_control=2.0)
    assert mix == pytest.approx({"file_case": 0.25, "freeze": 0.25, "poll_control": 0.5})
