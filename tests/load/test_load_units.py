"""The load generator's parts: histograms, plan, flows and their checks, summary verdicts."""

from __future__ import annotations

import json

import pytest

from load.generator.flows import CourtFlows, Holding
from load.generator.histograms import (
    ALL,
    encode,
    merge,
    new_histogram,
    percentiles_ms,
    record_seconds,
)
from load.generator.plan_file import POLLS, CourtPlan, Plan, RegionPlan
from load.harness.plan import build_mix, segments_for
from load.harness.summary import summarize
from sim.demand import CASES
from sim.scenario.load_settings import Slo

CAP = 5_000_000


def test_merged_percentiles_are_over_every_request_of_every_worker():
    fast, slow = new_histogram(), new_histogram()
    for _ in range(990):
        record_seconds(fast, 0.001)
    for _ in range(10):
        record_seconds(slow, 1.0)
    merged = merge([encode(fast), encode(slow)])
    assert merged.get_total_count() == 1000
    p = percentiles_ms(merged)
    assert p["p99"] == pytest.approx(1.0, rel=1e-3)  # 99% of requests took 1 ms
    assert p["p999"] == pytest.approx(1000, rel=1e-3)  # the slow tenth of a percent
    assert percentiles_ms(new_histogram())["p50"] is None


def test_microsecond_resolution_to_three_digits():
    h = new_histogram()
    record_seconds(h, 0.000_123)
    assert percentiles_ms(h)["p50"] == pytest.approx(0.123, abs=0.001)


def demand(shares, by_hour=None):
    by_hour = by_hour or [1.0] * 24
    return {
        "requests": {
            k: {"share": {"mean": s}, "per_second": {"mean": s}} for k, s in shares.items()
        },
        "total": {"by_hour_per_second": by_hour, "peak_hour": 0},
    }


def test_mix_adds_polls_per_query_and_sums_to_one():
    d = demand({CASES: 0.5, "POST /v1/queries central": 0.5, "POST /v1/controls renew": 0.0})
    mix = build_mix(d, polls_per_query=2)
    assert mix == pytest.approx({CASES: 0.25, "POST /v1/queries central": 0.25, POLLS: 0.5})


def test_daily_shape_compresses_the_profile_into_the_run():
    profile = [0.0] * 24
    profile[10], profile[11] = 2.0, 1.0
    segs = segments_for("daily", 100.0, 48.0, demand({CASES: 1}, profile))
    assert len(segs) == 24 and segs[10] == (20.0, 22.0, 100.0) and segs[11][2] == 50.0
    assert segments_for("flat", 100.0, 48.0, demand({CASES: 1})) == [(0.0, 48.0, 100.0)]


def plan(**kw) -> Plan:
    base = dict(
        host="http://127.0.0.1:1", admin_token="a", target_rate=10, segments=[(0, 1, 10)],
        duration_s=1, drain_s=1, workers=1, seed=1, mix={CASES: 1}, predicted_mix={CASES: 1},
        predicted_rates={CASES: 10}, courts=[CourtPlan("r-1", "t1", "r", 1.0)],
        regions={"r": RegionPlan(["D1"], CAP, {"central": 1.0}, [100_000])},
        max_in_flight=10, max_waiting=10, over_cap_share=1.0, replay_share=0.0,
        request_timeout_s=5, results_dir=".",
    )  # fmt: skip
    base.update(kw)
    return Plan(**base)


def test_flows_fall_back_along_the_chain_and_follow_answers():
    flows = CourtFlows(plan(), seed=1, worker=0)
    step = flows.next_step("POST /v1/controls deduct")  # nothing frozen, found or filed yet
    assert step.kind == CASES and step.body == {"debtor_id": "D1", "claim_fen": 100_000}
    assert flows.on_answer(step, 201, {"case_id": "C1"}).result == "ok"
    step = flows.next_step(POLLS)  # no query pending: the case is queried
    assert (step.path, step.body) == ("/v1/queries", {"case_id": "C1", "channel": "central"})
    flows.on_answer(step, 202, {"query_id": "Q1"})
    step = flows.next_step("POST /v1/controls freeze")  # nothing found yet: poll
    assert (step.name, step.path) == (POLLS, "/v1/queries/Q1")
    flows.on_answer(step, 200, {"status": "pending", "findings": []})
    step = flows.next_step(POLLS)
    finding = {"asset_id": "A1", "asset_type": "bank_deposit", "channel": "central",
               "balance_fen": 30_000}  # fmt: skip
    flows.on_answer(step, 200, {"status": "answered", "findings": [finding, finding]})
    assert len(flows.found) == 1  # the same asset found twice is frozen once
    step = flows.next_step("POST /v1/controls deduct")
    assert step.body == {"case_id": "C1", "asset_id": "A1", "action": "freeze"}
    assert step.headers["Idempotency-Key"]
    flows.on_answer(step, 201, {"control_id": "K1", "outcome": "done"})
    step = flows.next_step("POST /v1/controls deduct")
    assert step.body["action"] == "deduct" and step.body["amount_fen"] == 30_000
    assert flows.on_answer(step, 409, {"code": "stale_record"}).result == "refused"
    assert flows.on_answer(step, 409, {"code": "something_else"}).result == "error"
    assert flows.on_answer(step, 500, None).label == "500"


def test_an_over_cap_deduction_is_tried_only_where_only_the_cap_can_refuse_it():
    flows = CourtFlows(plan(over_cap_share=1.0), seed=1, worker=0)
    case = flows._file_case().subject  # its claim (1,000 yuan) is below the cap
    flows.deductible.append(Holding(case, "P1", "provident_fund", "central", 3 * CAP))
    step = flows.next_step("POST /v1/controls deduct")
    assert step.check == "" and step.body["amount_fen"] == 100_000


def test_an_over_cap_deduction_must_be_refused():
    flows = CourtFlows(plan(over_cap_share=1.0), seed=1, worker=0)
    case = flows._file_case().subject
    case.case_id, case.claim_left_fen = 1, 10 * CAP  # a claim above the cap
    flows.deductible.append(Holding(case, "P1", "provident_fund", "central", 3 * CAP))
    step = flows.next_step("POST /v1/controls deduct")
    assert step.check == "over_cap" and step.body["amount_fen"] == CAP + 100
    assert flows.on_answer(step, 409, {"code": "cap_exceeded"}).violation == ""
    assert flows.on_answer(step, 201, {"control_id": "K9"}).violation == "cap_breached"


def test_a_replayed_control_must_come_back_as_the_same_control():
    flows = CourtFlows(plan(replay_share=1.0), seed=1, worker=0)
    case = flows._file_case().subject
    case.case_id = "C1"
    flows.found.append(Holding(case, "A1", "vehicle", "central", 0))
    first = flows.next_step("POST /v1/controls freeze")
    flows.on_answer(first, 201, {"control_id": "K1"})
    again = flows.next_step("POST /v1/controls unfreeze")  # a replay goes first
    assert again.check == "replay" and again.headers == first.headers
    assert again.body == first.body
    assert flows.on_answer(again, 201, {"control_id": "K1"}).violation == ""
    assert flows.on_answer(again, 201, {"control_id": "K2"}).violation == "idempotency_replay"


def report(completed=1000, dropped=0, lag_s=0.001, latency_s=0.01, errors=None):
    lat, lag = new_histogram(), new_histogram()
    for _ in range(completed):
        record_seconds(lat, latency_s)
        record_seconds(lag, lag_s)
    return {
        "worker": 0, "complete": True, "arrivals": completed + dropped, "dropped": dropped,
        "completed": completed, "unfinished": 0, "sent": {CASES: completed},
        "errors": errors or {}, "refusals": {}, "violations": {}, "checks": {},
        "histograms": {"latency": {ALL: encode(lat), CASES: encode(lat)},
                       "corrected": {ALL: encode(lat), CASES: encode(lat)},
                       "send_lag": encode(lag), "queue_wait": encode(new_histogram())},
    }  # fmt: skip


OK_POST_RUN = {"reconcile": {"ok": True}, "audit": {"ok": True}}


def test_a_healthy_run_passes_and_is_json():
    s = summarize(
        plan(duration_s=100, segments=[(0, 100, 10)]),
        [report()],
        Slo(p99_ms={CASES: 50}),
        OK_POST_RUN,
    )
    assert s["slo"]["passed"] and s["generator"]["healthy"]
    assert s["target_rate"] == 10 and s["achieved_rate"] == 10
    json.dumps(s)


def test_a_late_generator_is_unhealthy_and_not_blamed_on_the_server():
    s = summarize(
        plan(duration_s=100, segments=[(0, 100, 10)]),
        [report(lag_s=0.05, dropped=3)],
        Slo(p99_ms={CASES: 50}),
        OK_POST_RUN,
    )
    assert not s["slo"]["passed"] and not s["generator"]["healthy"]
    failed = {c["check"]: c["kind"] for c in s["slo"]["checks"] if not c["passed"]}
    assert failed == {"send lag p99 ms": "generator", "dropped arrivals": "generator"}
    assert "UNHEALTHY GENERATOR" in s["generator"]["message"]


def test_errors_and_a_failed_reconcile_fail_the_run():
    bad = {"reconcile": {"ok": False}, "audit": {"ok": True}}
    s = summarize(
        plan(duration_s=100, segments=[(0, 100, 10)]),
        [report(errors={"POST /v1/cases 500": 5})],
        Slo(p99_ms={CASES: 50}),
        bad,
    )
    assert s["errors"]["count"] == 5 and s["errors"]["rate"] == pytest.approx(5 / 1000)
    assert s["violations"]["by_kind"] == {"reconcile_not_ok": 1}
    failed = {c["check"] for c in s["slo"]["checks"] if not c["passed"]}
    assert failed == {"error rate", "violations"}


def test_too_few_arrivals_for_the_target_is_the_generators_fault():
    r = report(completed=800)  # 800 drawn where 1,000 were due: 6.3 standard deviations
    s = summarize(plan(duration_s=100, segments=[(0, 100, 10)]), [r], Slo(p99_ms={CASES: 50}),
                  OK_POST_RUN)  # fmt: skip
    (check,) = [c for c in s["slo"]["checks"] if not c["passed"]]
    assert check["check"] == "arrivals drawn vs target (z)" and check["kind"] == "generator"
    assert check["value"] == pytest.approx(-6.32, abs=0.01)
