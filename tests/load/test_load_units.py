"""The load half's parts: histograms, shapes, the mix, thresholds, adapters, flows, summary."""

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
from load.generator.plan_file import CourtPlan, Plan, Prime, RegionPlan
from load.harness.plan import SIMULATED, build_mix, logical_shares
from load.harness.shapes import segments_for
from load.harness.summary import summarize
from load.harness.thresholds import collect, parse
from load.target import logical as lr
from load.target.adapter import load_adapter
from sim.errors import UserError
from sim.scenario.load_settings import LoadSettings, Slo
from sim.study import requests as rq

CAP = 5_000_000
REFERENCE = load_adapter()


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
    assert p["max"] == pytest.approx(1000, rel=1e-3)
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


def test_the_simulated_kinds_become_logical_requests():
    d = demand(
        {
            "file_case": 0.2,
            "query central": 0.2,
            "query local": 0.1,
            "control deduct": 0.5,
        }
    )
    assert logical_shares(d) == pytest.approx({"file_case": 0.2, "send_query": 0.3, "deduct": 0.5})


def test_each_simulated_request_is_one_request_of_ours_and_one_http_call():
    names = rq.names()  # every channel and every control action the simulation knows
    assert sorted(SIMULATED) == sorted(names)  # nothing unmapped, nothing mapped twice
    calls = [http for _, http in SIMULATED.values()]
    assert len(set(calls)) == len(calls)  # one-to-one with the HTTP calls
    assert {logical for logical, _ in SIMULATED.values()} == {
        lr.FILE_CASE, lr.SEND_QUERY, *lr.CONTROLS
    }  # fmt: skip
    assert SIMULATED[rq.FILE_CASE] == (lr.FILE_CASE, "POST /v1/cases")
    assert SIMULATED[rq.query("local")] == (lr.SEND_QUERY, "POST /v1/queries local")
    assert SIMULATED[rq.control("renew")] == (lr.RENEW, "POST /v1/controls renew")
    # the reference adapter sends each of our requests with the method and path named here
    for logical, http in SIMULATED.values():
        method, path = http.split()[:2]
        spec = REFERENCE.requests[logical]
        assert (spec.method, spec.path) == (method, path), logical


def test_mix_adds_polls_per_query_and_leaves_out_what_the_adapter_cannot_send():
    mix, notes = build_mix({"file_case": 0.5, "send_query": 0.5, "renew": 0.0}, 2)
    assert mix == pytest.approx({"file_case": 0.25, "send_query": 0.25, "poll_query": 0.5})
    assert notes == []
    mix, notes = build_mix(
        {"file_case": 0.5, "deduct": 0.5}, 0, 0, supported=("file_case", "send_query", "poll_query")
    )
    assert mix == {"file_case": 1.0} and "no deduct" in notes[0]


def test_shapes():
    settings = LoadSettings(
        ramp_from=0.2, steps=4, spike_multiplier=3, spike_at=0.5, spike_seconds=10
    )
    profile = [0.0] * 24
    profile[10], profile[11] = 2.0, 1.0
    daily = segments_for("daily", 100.0, 48.0, settings, demand({"x": 1}, profile))
    assert len(daily) == 24 and daily[10] == (20.0, 22.0, 100.0) and daily[11][2] == 50.0
    assert segments_for("flat", 100.0, 48.0, settings, {}) == [(0.0, 48.0, 100.0)]
    ramp = segments_for("ramp", 100.0, 10.0, settings, {})
    assert len(ramp) == 10 and ramp[0][2] == pytest.approx(24) and ramp[-1][2] == pytest.approx(96)
    steps = segments_for("step", 100.0, 40.0, settings, {})
    assert [r for *_, r in steps] == [25, 50, 75, 100] and steps[1][:2] == (10, 20)
    spike = segments_for("spike", 100.0, 60.0, settings, {})
    assert spike == [(0.0, 30.0, 100.0), (30.0, 40.0, 300.0), (40.0, 60.0, 100.0)]


def test_thresholds_parse_and_names_are_checked_before_the_run():
    t = parse("freeze: corrected_p99 < 500 abort", REFERENCE, "--threshold")
    assert (t.name, t.metric, t.op, t.value, t.abort) == ("freeze", "corrected_p99", "<", 500, True)
    t = parse("POST /v1/controls deduct: error_rate <= 0.01", REFERENCE, "--threshold")
    assert t.name == "deduct"  # the adapter's statistics name for a logical request
    for text, message in [
        ("frezee: p99 < 5", "unknown request 'frezee'"),
        ("freeze: p98 < 5", "unknown metric 'p98'"),
        ("freeze p99 < 5", "is not a threshold"),
        ("all: achieved_rate >= x", "is not a threshold"),
    ]:
        with pytest.raises(UserError, match=message):
            parse(text, REFERENCE, "--threshold")
    with pytest.raises(UserError, match=r"\[load.slo\] p99_ms.POST /v1/controls"):
        collect(Slo(p99_ms={"POST /v1/controls": 500}), [], REFERENCE)


def test_the_reference_adapter_renders_and_reads():
    variables = {
        "court_id": "c",
        "token": "T",
        "region": "r",
        "run_id": "R",
        "worker": 0,
        "case_id": 7,
        "asset_id": "D1-1",
        "asset_type": "bank_deposit",
        "action": "deduct",
        "key": "R-w0-1",
        "amount_fen": 500,
        "amount_yuan": 5.0,
    }
    call = REFERENCE.call("deduct", variables)
    assert (call.method, call.url, call.name) == (
        "POST",
        "/v1/controls",
        "POST /v1/controls deduct",
    )
    assert call.headers == {"Authorization": "Bearer T", "Idempotency-Key": "R-w0-1"}
    assert call.body == {"case_id": 7, "asset_id": "D1-1", "action": "deduct", "amount_fen": 500}
    assert REFERENCE.call("poll_query", {**variables, "query_id": 3}).url == "/v1/queries/3"
    answered = {
        "status": "answered",
        "findings": [
            {"asset_id": "A", "asset_type": "vehicle", "balance_fen": 5, "channel": "local"}
        ],
    }
    reply = REFERENCE.read("poll_query", 200, json.dumps(answered), variables)
    assert reply.answered and reply.findings[0]["asset_id"] == "A"
    assert REFERENCE.read("deduct", 409, '{"code": "cap_exceeded"}', variables).result == "refused"
    assert REFERENCE.read("deduct", 409, '{"code": "nonsense"}', variables).result == "error"
    assert REFERENCE.read("file_case", 201, "<html>", variables).label == "201 not JSON"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = ", "not valid TOML"),
        ('name = "x"\n[requests.file_case]\nmethod = "POST"\npath = "/c"', "needs send_query"),
        ('name = "x"\n[requests.fly]\nmethod = "GET"\npath = "/"', "requests.fly: not a logical"),
        (
            'name = "x"\n[requests.file_case]\nmethod = "POST"\npath = "/c/{case}"\n'
            '[requests.send_query]\nmethod = "POST"\npath = "/q"\n'
            '[requests.poll_query]\nmethod = "GET"\npath = "/q/{query_id}"\n'
            'answered = { path = "s", equals = 1 }',
            "requests.file_case.path: unknown variable {case}",
        ),
        ('name = "x"\nhook = "missing.py"\n[requests]', "hook: cannot read"),
        ('name = "x"\nauth = 3\n[requests]', "auth"),
    ],
)
def test_a_bad_adapter_file_is_one_line_naming_the_field(tmp_path, text, message):
    path = tmp_path / "adapter.toml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        load_adapter(path)
    assert any(message in line and str(path) in line for line in err.value.problems), (
        err.value.problems
    )


def plan(**kw) -> Plan:
    base = dict(
        host="http://127.0.0.1:1",
        run_id="run1",
        adapter=REFERENCE.to_json(),
        target_rate=10,
        segments=[(0, 1, 10)],
        duration_s=1,
        warmup_s=0,
        interval_s=1,
        drain_s=1,
        workers=1,
        seed=1,
        mix={"file_case": 1},
        predicted_mix={"file_case": 1},
        predicted_rates={"file_case": 10},
        courts=[CourtPlan("r-1", "r", 1.0)],
        regions={"r": RegionPlan(["D1"], CAP, {"central": 1.0}, [100_000])},
        max_in_flight=10,
        max_waiting=10,
        over_cap_share=1.0,
        replay_share=0.0,
        request_timeout_s=5,
        results_dir=".",
        prime=Prime(0, 0, 1),
    )
    base.update(kw)
    return Plan(**base)


def flows_of(**kw) -> CourtFlows:
    return CourtFlows(plan(**kw), REFERENCE, {"r-1": "t1"}, worker=0)


def test_flows_send_each_kind_and_fall_back_only_when_state_is_missing():
    flows = flows_of()
    step = flows.next_step("deduct")  # nothing frozen, found or filed yet
    assert step.logical == "file_case" and step.call.body == {
        "debtor_id": "D1",
        "claim_fen": 100_000,
    }
    assert step.call.headers["Authorization"] == "Bearer t1"
    assert flows.on_answer(step, 201, '{"case_id": 1}').result == "ok"
    step = flows.next_step("poll_query")  # no query yet: the case is queried
    assert (step.call.url, step.call.body) == ("/v1/queries", {"case_id": 1, "channel": "central"})
    flows.on_answer(step, 202, '{"query_id": 9}')
    step = flows.next_step("freeze")  # nothing found yet: poll
    assert step.call.url == "/v1/queries/9"
    flows.on_answer(step, 200, '{"status": "pending", "findings": []}')
    step = flows.next_step("poll_query")
    finding = {
        "asset_id": "A1",
        "asset_type": "bank_deposit",
        "channel": "central",
        "balance_fen": 30_000,
    }
    flows.on_answer(step, 200, json.dumps({"status": "answered", "findings": [finding] * 2}))
    assert len(flows.found) == 1  # the same asset found twice is kept once
    step = flows.next_step("poll_query")  # an answered query is polled again, not substituted
    assert step.logical == "poll_query"
    step = flows.next_step("deduct")  # nothing frozen: freeze it
    assert step.call.body == {"case_id": 1, "asset_id": "A1", "action": "freeze"}
    assert step.call.headers["Idempotency-Key"] == "run1-w0-1"  # the run's id in every key
    flows.on_answer(step, 201, '{"control_id": 1, "held_fen": 30000}')
    step = flows.next_step("deduct")
    assert step.call.body["action"] == "deduct" and step.call.body["amount_fen"] == 15_000
    assert flows.on_answer(step, 409, '{"code": "stale_record"}').result == "refused"
    assert flows.on_answer(step, 409, '{"code": "something_else"}').result == "error"
    assert flows.on_answer(step, 500, None).label == "500"
    step = flows.next_step("unfreeze")
    assert step.logical == "unfreeze"
    flows.on_answer(step, 201, '{"control_id": 3}')
    assert flows.next_step("freeze").logical == "freeze"  # released: frozen again


def test_an_over_cap_deduction_is_tried_only_where_only_the_cap_can_refuse_it():
    flows = flows_of(over_cap_share=1.0)
    case = flows._file_case().subject  # its claim (1,000 yuan) is below the cap
    case.case_id = 1
    flows.deductible.append(Holding(case, "P1", "provident_fund", "central", 3 * CAP))
    step = flows.next_step("deduct")
    assert step.check == "" and step.call.body["amount_fen"] == 100_000


def test_an_over_cap_deduction_must_be_refused():
    flows = flows_of(over_cap_share=1.0)
    case = flows._file_case().subject
    case.case_id, case.claim_left_fen = 1, 10 * CAP  # a claim above the cap
    flows.deductible.append(Holding(case, "P1", "provident_fund", "central", 3 * CAP))
    step = flows.next_step("deduct")
    assert step.check == "over_cap" and step.call.body["amount_fen"] == CAP + 100
    assert flows.on_answer(step, 409, '{"code": "cap_exceeded"}').violation == ""
    assert flows.on_answer(step, 201, '{"control_id": 9}').violation == "cap_breached"


def test_a_replayed_control_must_come_back_as_the_same_control():
    flows = flows_of(replay_share=1.0)
    case = flows._file_case().subject
    case.case_id = "C1"
    flows.found.append(Holding(case, "A1", "vehicle", "central", 0))
    first = flows.next_step("freeze")
    flows.on_answer(first, 201, '{"control_id": "K1"}')
    again = flows.next_step("unfreeze")  # a replay goes first
    assert again.check == "replay" and again.call == first.call
    assert flows.on_answer(again, 201, '{"control_id": "K1"}').violation == ""
    assert flows.on_answer(again, 201, '{"control_id": "K2"}').violation == "idempotency_replay"


def report(completed=1000, dropped=0, lag_s=0.001, latency_s=0.01, errors=None, sent=None):
    lat, lag = new_histogram(), new_histogram()
    for _ in range(completed):
        record_seconds(lat, latency_s)
        record_seconds(lag, lag_s)
    n_errors = sum((errors or {}).values())
    return {
        "worker": 0,
        "complete": True,
        "arrivals": completed + dropped,
        "dropped": dropped,
        "completed": completed,
        "achieved": completed - n_errors,
        "unfinished": 0,
        "sent": sent or {"file_case": completed},
        "errors": errors or {},
        "errors_by_name": {"file_case": n_errors},
        "answered_by_name": {"file_case": completed},
        "achieved_by_name": {"file_case": completed - n_errors},
        "refusals": {},
        "violations": {},
        "checks": {},
        "substituted": {},
        "histograms": {
            "latency": {ALL: encode(lat), "file_case": encode(lat)},
            "corrected": {ALL: encode(lat), "file_case": encode(lat)},
            "send_lag": encode(lag),
            "queue_wait": encode(new_histogram()),
        },
        "intervals": [],
    }


OK_POST_RUN = {"reconcile": {"ok": True}, "audit": {"ok": True}}
P100 = {"duration_s": 100, "segments": [(0, 100, 10)]}


def checks_of(summary, passed=False):
    return {c["check"]: c["kind"] for c in summary["slo"]["checks"] if c["passed"] == passed}


def test_a_healthy_run_passes_and_is_json():
    s = summarize(
        plan(**P100),
        [report()],
        Slo(),
        OK_POST_RUN,
        collect(Slo(p99_ms={"file_case": 50}), [], REFERENCE),
    )
    assert s["slo"]["passed"] and s["generator"]["healthy"]
    assert s["target_rate"] == 10 and s["achieved_rate"] == 10
    assert s["by_name"]["file_case"]["achieved_rate"] == 10
    json.dumps(s)


def test_a_late_generator_is_unhealthy_unless_its_lateness_is_small_against_the_latency():
    s = summarize(plan(**P100), [report(lag_s=0.05, dropped=3)], Slo(), OK_POST_RUN)
    assert not s["slo"]["passed"] and not s["generator"]["healthy"]
    assert checks_of(s) == {
        "send lag p99 ms (in proportion to latency)": "generator",
        "dropped arrivals": "generator",
    }
    assert "UNHEALTHY GENERATOR" in s["generator"]["message"]
    # 12 ms late against a server's 300 ms: 4%, said but not fatal
    s = summarize(plan(**P100), [report(lag_s=0.012, latency_s=0.3)], Slo(), OK_POST_RUN)
    assert s["generator"]["healthy"] and s["slo"]["passed"]
    assert "in proportion" in s["generator"]["message"] and "4%" in s["generator"]["message"]


def test_errors_fail_the_achieved_rate_and_the_error_threshold():
    bad = {"reconcile": {"ok": False}, "audit": {"ok": True}}
    s = summarize(
        plan(**P100),
        [report(errors={"file_case 500": 500})],
        Slo(),
        bad,
        collect(Slo(p99_ms={}), [], REFERENCE),
    )
    assert s["errors"]["count"] == 500 and s["achieved_rate"] == 5
    assert s["violations"]["by_kind"] == {"reconcile_not_ok": 1}
    assert set(checks_of(s)) == {
        "all: error_rate <= 0.001",
        "violations",
        "achieved / offered rate (successes answered in the window)",
    }


def test_the_mix_check_fails_when_the_measured_mix_strays():
    mix = {"file_case": 0.5, "poll_query": 0.5}
    s = summarize(
        plan(mix=mix, **P100),
        [report(sent={"file_case": 700, "poll_query": 300})],
        Slo(),
        OK_POST_RUN,
    )
    (check,) = [c for c in s["slo"]["checks"] if c["kind"] == "mix"]
    assert not check["passed"] and check["value"] == pytest.approx(0.2) and check["judged"]
    s = summarize(
        plan(mix=mix, **P100),
        [report(sent={"file_case": 520, "poll_query": 480})],
        Slo(),
        OK_POST_RUN,
    )
    assert next(c for c in s["slo"]["checks"] if c["kind"] == "mix")["passed"]


def test_too_few_arrivals_for_the_target_is_the_generators_fault():
    r = report(completed=800)  # 800 drawn where 1,000 were due: 6.3 standard deviations
    s = summarize(plan(**P100), [r], Slo(), OK_POST_RUN)
    (check,) = [c for c in s["slo"]["checks"] if not c["passed"]]
    assert check["check"] == "arrivals drawn vs target (z)" and check["kind"] == "generator"
    assert check["value"] == pytest.approx(-6.32, abs=0.01)


def test_logical_names_are_the_simulations_and_the_adapters():
    assert set(lr.LOGICAL) == {
        "file_case",
        "send_query",
        "poll_query",
        "read_case",
        "freeze",
        "deduct",
        "unfreeze",
        "renew",
        "poll_control",
    }
    assert all(REFERENCE.supports(k) for k in lr.LOGICAL)
    names = {REFERENCE.stat_name(k) for k in lr.CONTROLS}
    assert len(names) == 4  # every control action has a name of its own


def test_the_demand_is_cached_by_the_scenarios_hash_and_scaled_back_up(tmp_path, monkeypatch):
    from load.harness import demand_cache
    from sim.scenario import load_scenario
    from tests.conftest import BASELINE

    monkeypatch.setenv("CHAKONG_CACHE_DIR", str(tmp_path))
    quick = ["horizon_days=20", "warmup_days=0"]
    loaded = load_scenario(BASELINE, quick)
    first, source = demand_cache.demand_for(loaded, seed=1, replications=1, show_progress=False)
    assert source == "simulated"
    again, source = demand_cache.demand_for(loaded, seed=1, replications=1, show_progress=False)
    assert source.startswith("cache") and again == first
    other = load_scenario(BASELINE, [*quick, "regions.hunan.officers=30"])
    assert demand_cache.cache_key(other, 1, 1) != demand_cache.cache_key(loaded, 1, 1)
    # how the API and the load test run changes no simulated demand: the same key
    same = load_scenario(BASELINE, [*quick, "api.controls=scenario", "load.replay_share=0"])
    assert demand_cache.cache_key(same, 1, 1) == demand_cache.cache_key(loaded, 1, 1)
    assert first["scale"] == loaded.scale and first["volume_factor"] == loaded.volume_factor
    assert set(first["requests"]) == set(rq.names(["central", "local"]))


def test_the_api_started_here_runs_its_controls_through_the_agencies_unless_told():
    from load.cli.load import api_overrides
    from sim.scenario import load_scenario
    from tests.conftest import BASELINE

    plain = load_scenario(BASELINE).scenario
    assert api_overrides(None, None, plain, started_here=True) == ["api.controls=scenario"]
    assert api_overrides("instant", None, plain, started_here=True) == []
    assert api_overrides(None, None, plain, started_here=False) == []  # --host: as [api] says
    told = load_scenario(BASELINE, ["api.controls=instant"]).scenario
    assert api_overrides(None, None, told, started_here=True) == []
    faults = api_overrides(None, 0.1, plain, started_here=True)[1:]
    assert faults == [
        "api.faults.timeout_probability=0.1",
        "api.faults.lost_reply_probability=0.1",
        "api.faults.duplicate_reply_probability=0.1",
    ]
    served = load_scenario(BASELINE, faults).scenario.api.faults
    assert served.timeout_probability == served.lost_reply_probability == 0.1
