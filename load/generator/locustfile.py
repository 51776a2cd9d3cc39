"""The Locust side of ``chakong load``: run only by Locust processes (it imports gevent).

``chakong load`` starts ``locust -f load/locustfile.py`` with the plan's path in
``CHAKONG_LOAD_PLAN`` (see :mod:`load.harness.plan`), one user per worker process. The user,
:class:`CourtNetwork`, does not loop on Locust's wait times: its single task runs the open
clock (:mod:`load.generator.open_clock`) at the worker's share of the target rate, sending the
court flows' requests (:mod:`load.generator.flows`) through Locust's fast HTTP client, so Locust's
own statistics, CSV and HTML still hold every request under its templated name
(``GET /v1/queries/{id}``). At the end it reports its HDR histograms and counts:
a worker sends them to the master (a Locust custom message), which writes
``worker-N.json`` into the results folder and stops the run when every worker has
reported; a standalone run writes the file itself.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from load.generator.flows import CourtFlows
from load.generator.open_clock import OpenClock
from load.generator.plan_file import Plan

REPORT = "chakong_report"
PLAN = Plan.from_env()


def _write_report(report: dict[str, Any]) -> None:
    out = Path(PLAN.results_dir) / f"worker-{report['worker']}.json"
    out.write_text(json.dumps(report), encoding="utf-8")


def _finish(environment) -> None:
    """End the run: quit the runner (and its workers), and the web UI if one is served
    (left up 10 s more, so the last figures can be read)."""

    def quit_all() -> None:
        environment.runner.quit()
        if environment.web_ui is not None:
            environment.web_ui.stop()

    gevent.spawn_later(10 if environment.web_ui is not None else 0.5, quit_all)


@events.init.add_listener
def _on_init(environment, **_kwargs) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        received: set[int] = set()

        def on_report(msg, **_kw) -> None:
            _write_report(msg.data)
            received.add(msg.data["worker"])
            if len(received) >= PLAN.workers:
                _finish(environment)

        runner.register_message(REPORT, on_report)


class CourtNetwork(FastHttpUser):
    """Every court of one worker process, sending on the open clock."""

    host = PLAN.host
    concurrency = PLAN.max_in_flight
    network_timeout = PLAN.request_timeout_s
    connection_timeout = PLAN.request_timeout_s

    @task
    def open_arrivals(self) -> None:
        runner = self.environment.runner
        worker = max(int(getattr(runner, "worker_index", 0)), 0)
        flows = CourtFlows(PLAN, PLAN.seed, worker)
        tally: dict[str, Counter] = {
            k: Counter()
            for k in ("requested", "sent", "errors", "refusals", "violations", "checks")
        }

        def work(kind: str) -> str:
            tally["requested"][kind] += 1
            step = flows.next_step(kind)
            tally["sent"][step.kind] += 1
            if step.check:
                tally["checks"][f"{step.check}_sent"] += 1
            headers = {"Authorization": f"Bearer {step.token}", **step.headers}
            with self.client.request(
                step.method, step.path, name=step.name, json=step.body, headers=headers,
                catch_response=True,
            ) as resp:  # fmt: skip
                status = resp.status_code or 0
                try:
                    data = json.loads(resp.text) if resp.text else None
                except ValueError:
                    data = None
                outcome = flows.on_answer(step, status, data)
                if outcome.result == "error":
                    resp.failure(f"{step.name}: {outcome.label}")
                    tally["errors"][f"{step.name} {outcome.label}"] += 1
                else:
                    resp.success()
                if outcome.result == "refused":
                    tally["refusals"][f"{step.kind} {outcome.label}"] += 1
                    if step.check:
                        tally["checks"][f"{step.check}_refused"] += 1
                if outcome.violation:
                    tally["violations"][outcome.violation] += 1
            return step.name

        share = 1.0 / PLAN.workers
        clock = OpenClock(
            [(a, b, r * share) for a, b, r in PLAN.segments],
            list(PLAN.mix),
            list(PLAN.mix.values()),
            work,
            seed=(PLAN.seed, worker, 0),
            max_in_flight=PLAN.max_in_flight,
            max_waiting=PLAN.max_waiting,
        )
        timing = None
        try:
            timing = clock.run(PLAN.drain_s)
        finally:
            report = {
                "worker": worker,
                "pid": os.getpid(),
                "rate": sum((b - a) * r for a, b, r in PLAN.segments) * share / PLAN.duration_s,
                "complete": timing is not None,
                **(timing or clock.timing).to_json(),
                **{k: dict(v) for k, v in tally.items()},
            }
            if isinstance(runner, WorkerRunner):
                runner.send_message(REPORT, report)
            else:
                _write_report(report)
                _finish(self.environment)
        raise StopUser()
