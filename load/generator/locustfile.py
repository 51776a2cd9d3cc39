"""The Locust side of ``chakong load``: run only by Locust processes (it imports gevent).

``chakong load`` starts ``locust -f load/generator/locustfile.py`` with the plan's path in
``CHAKONG_LOAD_PLAN`` and the fixtures' in ``CHAKONG_LOAD_FIXTURES`` (the courts' tokens),
one user per worker process. The user, :class:`CourtNetwork`, does not loop on Locust's
wait times: it first primes the state its flows need (closed loop, a few connections,
outside the statistics the verdict reads), then runs the open clock
(:mod:`load.generator.open_clock`) at the worker's share of the target rate, sending the
court flows' requests (:mod:`load.generator.flows`) through the target adapter and Locust's
fast HTTP client, so Locust's own statistics, CSV and HTML still hold every request under
its adapter name.

Each interval a worker reports its time series so far (a Locust message to the master,
which appends it to ``live.jsonl``; a standalone process appends itself), which the
``chakong`` process reads for its progress line and abort-on-fail thresholds; it asks for
an abort by writing ``abort`` into the results folder, which the master (or standalone
process) passes on. After its clock, each worker reads every case its flows made controls
on and holds the case's list against what it was told (the case check, under '(check)'
names, outside the figures). At the end each worker reports its HDR histograms and counts:
the master writes ``worker-N.json`` and stops the run when every worker has reported.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from load.generator.flows import CourtFlows, Outcome, Step
from load.generator.histograms import ALL, encode
from load.generator.open_clock import OpenClock
from load.generator.plan_file import Plan, tokens_from_env
from load.target import logical as lr
from load.target.adapter import Adapter

REPORT = "chakong_report"
INTERVAL = "chakong_interval"
ABORT = "chakong_abort"
PLAN = Plan.from_env()
RESULTS = Path(PLAN.results_dir)
ABORT_FILE = RESULTS / "abort"
LIVE_FILE = RESULTS / "live.jsonl"
PRIME_CONCURRENCY = 8
CHECK_CONCURRENCY = 8
CHECK_CASES_MAX = 3000  # cases read after the run (evenly thinned beyond)
CHECK_SECONDS_MAX = 30.0
CLOCKS: list[OpenClock] = []  # this process's clock, for an abort


def _write_report(report: dict[str, Any]) -> None:
    out = RESULTS / f"worker-{report['worker']}.json"
    out.write_text(json.dumps(report), encoding="utf-8")


def _append_live(data: dict[str, Any]) -> None:
    with LIVE_FILE.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(data) + "\n")


def _finish(environment) -> None:
    """End the run: quit the runner (and its workers), and the web UI if one is served
    (left up 10 s more, so the last figures can be read)."""

    def quit_all() -> None:
        environment.runner.quit()
        if environment.web_ui is not None:
            environment.web_ui.stop()

    gevent.spawn_later(10 if environment.web_ui is not None else 0.5, quit_all)


def _watch_abort(environment) -> None:
    """Pass an abort asked for by ``chakong load`` (the ``abort`` file) to the clocks."""
    while not ABORT_FILE.exists():
        gevent.sleep(0.25)
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.send_message(ABORT, {})
    for clock in CLOCKS:
        clock.stop()


@events.init.add_listener
def _on_init(environment, **_kwargs) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(ABORT, lambda msg, **_kw: [c.stop() for c in CLOCKS])
        return
    gevent.spawn(_watch_abort, environment)
    if isinstance(runner, MasterRunner):
        received: set[int] = set()

        def on_report(msg, **_kw) -> None:
            _write_report(msg.data)
            received.add(msg.data["worker"])
            if len(received) >= PLAN.workers:
                _finish(environment)

        runner.register_message(REPORT, on_report)
        runner.register_message(INTERVAL, lambda msg, **_kw: _append_live(msg.data))


class CourtNetwork(FastHttpUser):
    """Every court of one worker process, sending on the open clock."""

    host = PLAN.host
    concurrency = PLAN.max_in_flight
    network_timeout = PLAN.request_timeout_s
    connection_timeout = PLAN.request_timeout_s

    def _send(self, flows: CourtFlows, step: Step, name: str) -> tuple[int, Outcome]:
        """Send ``step`` under ``name``; the flows judge the answer (Locust counts an
        error as a failure, a refusal as a success)."""
        call = step.call
        kwargs: dict[str, Any] = {"name": name, "headers": call.headers, "catch_response": True}
        if isinstance(call.body, str | bytes):  # serialised by the adapter's hook
            kwargs["data"] = call.body
            kwargs["headers"] = {"Content-Type": "application/json", **call.headers}
        elif call.body is not None:
            kwargs["json"] = call.body
        with self.client.request(call.method, call.url, **kwargs) as resp:
            status = resp.status_code or 0
            outcome = flows.on_answer(step, status, resp.text if status else None)
            if outcome.result == "error":
                resp.failure(f"{step.logical}: {outcome.label}")
            else:
                resp.success()
        return status, outcome

    def _prime(self, flows: CourtFlows) -> dict[str, Any]:
        """Build the state the flows need before the clock starts: file and query cases,
        poll until answers come, freeze half of what is found (and follow those freezes
        while the agencies have them, until half are frozen). Closed loop, a few
        connections, under Locust names starting '(prime)'."""
        goal = PLAN.prime
        began = time.monotonic()
        sent: Counter = Counter()

        def enough() -> bool:
            s = flows.stock()
            have = s["found"] + s["frozen"] + s["in_flight"]
            settled = s["frozen"] >= goal.found // 2 or not s["in_flight"]
            return have >= goal.found and s["pending"] >= goal.pending and settled

        def one() -> None:
            s = flows.stock()
            have = s["found"] + s["frozen"] + s["in_flight"]
            step = flows.due_again()  # a control whose fate is unknown, or unanswered
            if step is not None:
                kind = step.logical
            elif s["found"] and s["frozen"] + s["in_flight"] < goal.found // 2:
                kind = lr.FREEZE
            elif flows.unqueried():
                kind = lr.SEND_QUERY
            elif have + s["pending"] < goal.found + goal.pending:
                kind = lr.FILE_CASE  # keep the pipeline full while answers come
            elif s["pending"] and (have < goal.found or s["pending"] > goal.pending):
                kind = lr.POLL_QUERY
            elif s["in_flight"] and flows.adapter.supports(lr.POLL_CONTROL):
                kind = lr.POLL_CONTROL
            else:
                kind = lr.SEND_QUERY  # queries to be polled once the clock starts
            step = step or flows.next_step(kind)
            sent[step.logical] += 1
            self._send(flows, step, f"(prime) {step.name}")
            polls = (lr.POLL_QUERY, lr.POLL_CONTROL)
            if step.logical in polls and (flows.pending or flows.book.in_flight()):
                gevent.sleep(0.2)  # answers come on the target's clock: poll gently

        def loop() -> None:
            while not enough() and time.monotonic() - began < goal.max_s:
                one()

        if goal.found or goal.pending:
            gevent.joinall([gevent.spawn(loop) for _ in range(PRIME_CONCURRENCY)])
        return {
            "seconds": round(time.monotonic() - began, 3),
            "complete": enough() or not (goal.found or goal.pending),
            "goal": {"found": goal.found, "pending": goal.pending},
            "stock": flows.stock(),
            "sent": dict(sent),
        }

    @task
    def open_arrivals(self) -> None:
        runner = self.environment.runner
        worker = max(int(getattr(runner, "worker_index", 0)), 0)
        adapter = Adapter.from_json(PLAN.adapter)
        flows = CourtFlows(PLAN, adapter, tokens_from_env(), worker)
        tally: dict[str, Counter] = {
            k: Counter()
            for k in (
                "requested",
                "sent",
                "errors",
                "errors_by_name",
                "answered_by_name",
                "refusals",
                "violations",
                "checks",
                "substituted",
            )
        }
        prime = self._prime(flows)
        ledger: dict[str, Any] = {}

        def work(kind: str, measured: bool) -> tuple[str, bool]:
            step = flows.next_step(kind)
            _, outcome = self._send(flows, step, step.name)
            if measured:
                name = step.logical
                tally["requested"][kind] += 1
                tally["sent"][name] += 1
                tally["answered_by_name"][name] += 1
                if name != kind and step.check != "replay":
                    tally["substituted"][f"{kind} -> {name}"] += 1
                if step.check:
                    tally["checks"][f"{step.check}_sent"] += 1
                if outcome.result == "error":
                    tally["errors"][f"{name} {outcome.label}"] += 1
                    tally["errors_by_name"][name] += 1
                elif outcome.result == "refused":
                    tally["refusals"][f"{name} {outcome.label}"] += 1
                    if step.check:
                        tally["checks"][f"{step.check}_refused"] += 1
                if outcome.violation:
                    tally["violations"][outcome.violation] += 1
            return step.logical, outcome.result != "error"

        share = 1.0 / PLAN.workers
        clock = OpenClock(
            [(a, b, r * share) for a, b, r in PLAN.segments],
            list(PLAN.mix),
            list(PLAN.mix.values()),
            work,
            seed=(PLAN.seed, worker, 0),
            max_in_flight=PLAN.max_in_flight,
            max_waiting=PLAN.max_waiting,
            warmup_s=PLAN.warmup_s,
            interval_s=PLAN.interval_s,
        )
        CLOCKS.append(clock)
        live = gevent.spawn(self._live, clock, worker, tally)
        timing = None
        try:
            timing = clock.run(PLAN.drain_s)
            ledger = self._check_cases(flows, tally["violations"])
        finally:
            live.kill(block=False)
            report = {
                "worker": worker,
                "pid": os.getpid(),
                "rate": sum((b - a) * r for a, b, r in PLAN.segments) * share / PLAN.duration_s,
                "complete": timing is not None,
                "prime": prime,
                "stock_at_end": flows.stock(),
                "controls": flows.book.report(),
                "ledger": ledger,
                **(timing or clock.timing).to_json(),
                **{k: dict(v) for k, v in tally.items()},
            }
            if isinstance(runner, WorkerRunner):
                runner.send_message(REPORT, report)
            else:
                _write_report(report)
                _finish(self.environment)
        raise StopUser()

    def _check_cases(self, flows: CourtFlows, violations: Counter) -> dict[str, Any]:
        """After the run, read every case the flows made controls on (through the adapter's
        ``read_case``) and hold its list of controls against what was acknowledged
        (:meth:`load.generator.controls.ControlBook.verify`). Under '(check)' names, outside
        every figure the verdict reads; bounded in cases and in time."""
        spec = flows.adapter.spec.checks.case_controls
        if spec is None:
            return {"checked": False}
        cases = flows.book.to_check(CHECK_CASES_MAX)
        queue = list(cases)
        began = time.monotonic()
        found: Counter = Counter()
        unread = 0

        def loop() -> None:
            nonlocal unread
            while queue and time.monotonic() - began < CHECK_SECONDS_MAX:
                case = queue.pop()
                step = flows.check_case(case)
                outcome, body = self._read(flows, step)
                seen = flows.verify_case(case, body) if outcome == "ok" else None
                if seen is None:
                    unread += 1
                else:
                    found.update(seen)

        gevent.joinall([gevent.spawn(loop) for _ in range(CHECK_CONCURRENCY)])
        violations.update(found)
        return {
            "checked": True,
            "cases": flows.book.checked["cases"],
            "controls": flows.book.checked["controls"],
            "cases_with_controls": len(flows.book.case_of),
            "unread": unread + len(queue),
            "seconds": round(time.monotonic() - began, 3),
            "violations": dict(found),
        }

    def _read(self, flows: CourtFlows, step: Step) -> tuple[str, Any]:
        """Send a check's request; (ok or error, JSON body)."""
        call = step.call
        with self.client.request(
            call.method, call.url, name=f"(check) {step.name}", headers=call.headers,
            catch_response=True,
        ) as resp:  # fmt: skip
            status = resp.status_code or 0
            reply = flows.adapter.read(step.logical, status, resp.text if status else None,
                                       step.variables)  # fmt: skip
            if reply.result == "ok":
                resp.success()
            else:
                resp.failure(reply.label)
        return reply.result, reply.body

    def _live(self, clock: OpenClock, worker: int, tally: dict[str, Counter]) -> None:
        """Every interval, the intervals completed so far (counts and corrected latency),
        and the figures after the warm-up so far by request (for abort thresholds)."""
        runner = self.environment.runner
        sent = 0
        while True:
            gevent.sleep(PLAN.interval_s)
            done = min(
                len(clock.timing.intervals),
                int((time.perf_counter() - clock.t0) / PLAN.interval_s) - 1,
            )
            if done <= sent:
                continue
            t = clock.timing
            by_name = {
                name: {
                    "answered": tally["answered_by_name"][name] if name != ALL else t.completed,
                    "errors": tally["errors_by_name"][name]
                    if name != ALL
                    else sum(tally["errors_by_name"].values()),
                    "achieved": t.achieved_by_name.get(name, 0) if name != ALL else t.achieved,
                    "latency": encode(t.latency[name]),
                    "corrected": encode(t.corrected[name]),
                }
                for name in list(t.corrected)
            }
            data = {
                "worker": worker,
                "first": sent,
                "intervals": [i.to_json() for i in t.intervals[sent:done]],
                "measured_s": max(0.0, time.perf_counter() - clock.t0 - PLAN.warmup_s),
                "by_name": by_name,
            }
            sent = done
            if isinstance(runner, WorkerRunner):
                runner.send_message(INTERVAL, data)
            else:
                _append_live(data)
