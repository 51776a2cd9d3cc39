"""One load run, start to end, around Locust (no Locust in this process).

:class:`Target` is what the run drives: a running API (``--host`` and ``--fixtures``) or the
reference API started here on a free loopback port, with its agencies on a clock fast
enough for a query's answers to come within seconds (``[load] api_time_scale``), its
fixtures (which hold tokens) in a private folder outside the results. :func:`run_step`
runs one plan against it: preflight has passed by then; it writes ``plan.json`` (no
tokens), runs Locust while :class:`load.harness.live.LiveMonitor` prints progress and
judges abort-on-fail thresholds, runs the adapter's post-run checks (reconcile, audit) or
says they are skipped, and summarises.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load.harness import plan as planning
from load.harness.live import LiveMonitor
from load.harness.processes import free_port, reference_api, run_locust, worker_command
from load.harness.summary import read_reports, summarize
from load.harness.thresholds import Threshold
from load.target.adapter import Adapter
from load.target.preflight import check_endpoint
from sim.errors import UserError
from sim.scenario.loader import LoadedScenario

DRAIN_MAX_S = 10.0


class RunFailed(UserError):
    """The run itself broke (no Locust worker reported): said in one line, exit 1."""

    exit_code = 1


@dataclass
class Target:
    host: str
    fixtures_path: Path
    fixtures: dict[str, Any]
    started_here: bool
    time_scale: float | None = None  # its seconds per simulated day (None: not known here)


@contextlib.contextmanager
def private_folder() -> Iterator[Path]:
    """A folder only this user can read, outside the results, removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="chakong-load-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def target(
    loaded: LoadedScenario,
    file: str,
    host: str | None,
    fixtures: Path | None,
    seed: int,
    folder: Path,
    private: Path,
) -> Iterator[Target]:
    if host:
        assert fixtures is not None
        yield Target(host.rstrip("/"), fixtures, planning.read_fixtures(fixtures), False)
        return
    scale = loaded.scenario.load.api_time_scale
    with reference_api(file, list(loaded.overrides), seed, folder, private, scale) as (url, fx):
        yield Target(url, fx, planning.read_fixtures(fx), True, scale)


@dataclass
class Step:
    """What one run needs beside the target: the plan's inputs and how to run Locust."""

    rate: float
    segments: list[tuple[float, float, float]]
    shape: dict[str, Any]
    duration_s: float
    warmup_s: float
    workers: int
    remote_workers: int
    master_bind: str
    master_port: int | None
    ui: bool
    show_progress: bool


def post_run_checks(adapter: Adapter, tgt: Target) -> tuple[dict[str, Any], list[str]]:
    """The adapter's reconcile and audit checks after the run, or why they were skipped."""
    results: dict[str, Any] = {}
    skipped = []
    variables = {"admin_token": tgt.fixtures.get("admin_token", "")}
    for name in ("reconcile", "audit"):
        check = getattr(adapter.spec.checks, name)
        if check is None:
            skipped.append(f"{name}: the adapter '{adapter.name}' declares no {name} endpoint")
            continue
        try:
            ok, status, body = check_endpoint(tgt.host, adapter, check, variables, timeout=60)
            results[name] = {"ok": ok, "status": status, "answer": body}
        except OSError as exc:
            results[name] = {"ok": False, "status": 0, "answer": str(exc)}
    checks = adapter.spec.checks
    if checks.over_cap_code is None:
        skipped.append(
            f"over_cap: the adapter '{adapter.name}' names no refusal code for a "
            "deduction over the provident-fund cap"
        )
    if checks.replay_id is None:
        skipped.append(
            f"replay: the adapter '{adapter.name}' names no control id to compare "
            "a replayed control against"
        )
    if checks.case_controls is None:
        skipped.append(
            f"case controls: the adapter '{adapter.name}' says nowhere how a case lists its "
            "controls, so no acknowledged control is checked for being lost or doubled"
        )
    return results, skipped


def run_step(
    loaded: LoadedScenario,
    demand: dict[str, Any],
    adapter: Adapter,
    tgt: Target,
    thresholds: Sequence[Threshold],
    step: Step,
    seed: int,
    folder: Path,
) -> dict[str, Any]:
    scenario = loaded.scenario
    plan = planning.make_plan(
        scenario,
        demand,
        tgt.fixtures,
        adapter,
        host=tgt.host,
        rate=step.rate,
        segments=step.segments,
        shape=step.shape,
        duration_s=step.duration_s,
        warmup_s=step.warmup_s,
        workers=step.workers + step.remote_workers,
        seed=seed,
        results_dir=folder,
        drain_max_s=DRAIN_MAX_S,
        time_scale=tgt.time_scale,
    )
    plan_path = folder / "plan.json"
    plan.write(plan_path)
    limit = step.duration_s + plan.drain_s + plan.prime.max_s + 60  # Locust's own: a safety net
    port = step.master_port
    if step.remote_workers:
        port = port or free_port()
        print(
            f"waiting for {step.remote_workers} remote worker(s); copy {plan_path} and the "
            f"fixtures to each machine and run there: CHAKONG_LOAD_PLAN=plan.json "
            f"CHAKONG_LOAD_FIXTURES=fixtures.json "
            f"{' '.join(worker_command(port, 'MASTER_ADDRESS', 'python'))}",
            file=sys.stderr,
        )
        limit += 600  # remote workers may take a while to join
    ui_port = free_port() if step.ui else None
    if ui_port:
        print(f"Locust web UI: http://127.0.0.1:{ui_port}/", file=sys.stderr, flush=True)
    aborts = [t for t in thresholds if t.abort]
    monitor = LiveMonitor(
        folder, step.duration_s, step.warmup_s, plan.interval_s, aborts, step.show_progress
    )
    began: list[float] = []

    def tick(elapsed: float) -> None:
        # the clock starts after priming: count from the first interval that came back
        if not began and (folder / "live.jsonl").exists():
            began.append(elapsed - plan.interval_s)
        monitor.tick(elapsed - began[0] if began else None)

    try:
        run_locust(
            plan_path,
            tgt.fixtures_path,
            folder,
            step.workers,
            limit,
            tick,
            step.remote_workers,
            step.master_bind,
            port,
            ui_port,
        )
    finally:
        monitor.close()
    post_run, skipped = post_run_checks(adapter, tgt)
    reports = read_reports(folder)
    if not reports:
        log = (folder / "locust.log").read_text(errors="replace").strip().splitlines()[-3:]
        raise RunFailed(f"no Locust worker reported; locust.log ends: {' | '.join(log)}")
    summary = summarize(plan, reports, scenario.load.slo, post_run, thresholds, skipped)
    if monitor.aborted:
        summary["run"]["abort"] = monitor.aborted
    return {"scenario": scenario.name, **summary}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
