"""``chakong load``: a Locust load test of the query API, driven by a scenario.

Registered through the ``chakong.commands`` entry point. This process simulates the demand,
builds the plan (:mod:`load.harness.plan`), starts the reference API when no ``--host`` is given,
runs Locust in child processes (:mod:`load.harness.processes`; Locust and gevent are never
imported here), checks reconcile and audit afterwards, writes the results folder and exits
0 when every SLO holds, 1 when one fails (or a violation, or an unhealthy generator), 2 on
bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from load.cli.options import (
    duration,
    non_negative_int,
    port_number,
    positive_float,
    positive_int,
)
from sim.errors import UserError

LOAD_EPILOG = """\
examples:
  chakong load scenarios/baseline.toml --duration 30s
  chakong load scenarios/baseline.toml --duration 30s --workers 2 --json
  chakong load scenarios/baseline.toml --rate 200 --duration 2m --shape daily
  chakong load scenarios/baseline.toml --host http://10.0.0.7:8000 --fixtures fixtures.json
  chakong load scenarios/baseline.toml --demand-multiplier 20000 --ui

Without --host the reference API (chakong serve) is started on a free loopback port with
an embedded SQLite database, and stopped afterwards. The target rate is --rate, or the
simulated peak-hour request rate (chakong demand) times --demand-multiplier (default: the
scenario's [load] table). Requests start as a Poisson process on an absolute clock (open
workload); latency is reported from the actual and from the intended send (corrected for
coordinated omission), with the generator's own send lag and dropped arrivals.

Results (default results/load-<scenario>/<UTC time>/): summary.json (the --json object),
report.html (verdicts, the simulated mix beside the measured one, latency plots),
manifest.json, plan.json, demand.json, Locust's locust_*.csv and locust.html, worker-N.json
(HDR histograms), logs. Exit 0: every SLO of [load.slo] held; 1: an SLO failed, the API
answered wrongly (violations) or the generator fell behind; 2: bad input.
"""

DRAIN_MAX_S = 10.0


class RunFailed(UserError):
    """The run itself broke (no Locust worker reported): said in one line, exit 1."""

    exit_code = 1


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "load",
        parents=[scen],
        help="load-test the query API with traffic from a scenario (Locust, open workload)",
        description="Load-test the query-and-control API with the traffic a scenario implies: "
        "Poisson arrivals at the target rate, court flows (file, query, poll, freeze, "
        "deduct), HDR latency corrected for coordinated omission, SLOs from the scenario.",
        epilog=LOAD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="scenario file (TOML)")
    p.add_argument("--host", metavar="URL", help="a running API (needs --fixtures)")
    p.add_argument("--fixtures", type=Path, metavar="FILE", help="the API's fixtures JSON")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--rate", type=positive_float, metavar="R", help="target requests/s")
    rate.add_argument(
        "--demand-multiplier",
        type=positive_float,
        metavar="M",
        help="target = simulated peak-hour rate x M",
    )
    p.add_argument("--duration", type=duration, metavar="D", help="run length (30s, 2m, 1h)")
    p.add_argument(
        "--workers", type=positive_int, default=1, metavar="N",
        help="Locust worker processes (N > 1: a master and N workers)",
    )  # fmt: skip
    p.add_argument(
        "--remote-workers", type=non_negative_int, default=0, metavar="K",
        help="also wait for K workers started on other machines (see the README)",
    )  # fmt: skip
    p.add_argument(
        "--master-bind", default="127.0.0.1", metavar="HOST",
        help="address the Locust master listens on (remote workers: 0.0.0.0)",
    )  # fmt: skip
    p.add_argument("--master-port", type=port_number, metavar="P", help="Locust master port")
    p.add_argument("--shape", choices=("flat", "daily"), help="flat rate, or the daily profile")
    p.add_argument("--seed", type=non_negative_int, metavar="S", help="seed of the arrivals")
    p.add_argument("--ui", action="store_true", help="serve Locust's web UI (127.0.0.1:8089)")
    p.add_argument("--out", type=Path, metavar="DIR", help="results folder (must be new)")
    p.add_argument(
        "--demand-replications", type=positive_int, default=1, metavar="K",
        help="replications of the simulation for the demand (default 1)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_load)


def cmd_load(args: argparse.Namespace) -> int:
    from sim.outputs import check_destination, default_results_dir, results_folder
    from sim.scenario import load_scenario

    if args.host and not args.fixtures:
        raise UserError("--host: needs --fixtures FILE (the API's courts, tokens and debtors)")
    if args.fixtures and not args.host:
        raise UserError("--fixtures: only with --host (without it the API is started here)")
    loaded = load_scenario(args.file, args.overrides)
    if args.fixtures:
        from load.harness.plan import read_fixtures

        read_fixtures(args.fixtures)  # bad fixtures: exit 2 before any work
        from load.harness.processes import check_reachable

        check_reachable(args.host)
    out = args.out or default_results_dir(f"load-{loaded.scenario.name}")
    check_destination(out)
    with results_folder(out) as tmp:
        summary = run_load(args, loaded, tmp)
    _print(args, summary, out)
    return 0 if summary["slo"]["passed"] else 1


def run_load(args: argparse.Namespace, loaded, folder: Path) -> dict[str, Any]:
    from contextlib import ExitStack

    from load.harness import plan as planning
    from load.harness.processes import http_json, reference_api, run_locust
    from load.harness.summary import read_reports, summarize
    from sim.demand import run_demand
    from sim.outputs import manifest, write_json

    scenario = loaded.scenario
    settings = scenario.load
    seed = scenario.run.seed if args.seed is None else args.seed
    started, began = dt.datetime.now(dt.UTC), time.perf_counter()
    demand = run_demand(
        loaded, seed=seed, replications=args.demand_replications,
        show_progress=not args.no_progress,
    )  # fmt: skip
    write_json(folder / "demand.json", demand)
    rate = planning.target_rate(scenario, demand, args.rate, args.demand_multiplier)
    length = args.duration or settings.duration_seconds
    shape = args.shape or settings.shape
    with ExitStack() as stack:
        if args.host:
            host, fixtures_path = args.host.rstrip("/"), args.fixtures
        else:
            host, fixtures_path = stack.enter_context(
                reference_api(args.file, list(args.overrides), seed, folder)
            )
        fixtures = planning.read_fixtures(fixtures_path)
        plan = planning.make_plan(
            scenario, demand, fixtures, host=host, rate=rate, duration_s=length, shape=shape,
            workers=args.workers + args.remote_workers, seed=seed, results_dir=folder,
            drain_max_s=DRAIN_MAX_S,
        )  # fmt: skip
        plan_path = folder / "plan.json"
        plan.write(plan_path)
        limit = length + plan.drain_s + 60  # Locust's own time limit: a safety net only
        port = args.master_port
        if args.remote_workers:
            from load.harness.processes import free_port, worker_command

            port = port or free_port()
            print(f"waiting for {args.remote_workers} remote worker(s); copy {plan_path} to "
                  f"each machine as plan.json and run there: CHAKONG_LOAD_PLAN=plan.json "
                  f"{' '.join(worker_command(port, 'MASTER_ADDRESS', 'python'))}",
                  file=sys.stderr)  # fmt: skip
            limit += 600  # remote workers may take a while to join
        with _progress(length, not args.no_progress) as tick:
            run_locust(plan_path, folder, args.workers, args.ui, limit, tick,
                       args.remote_workers, args.master_bind, port)  # fmt: skip
        post_run = {}
        for check, path in (("reconcile", "/v1/admin/reconcile"),
                            ("audit", "/v1/admin/audit/verify")):  # fmt: skip
            try:
                status, body = http_json(host + path, plan.admin_token, timeout=60)
                ok = status == 200 and isinstance(body, dict) and body.get("ok") is True
                post_run[check] = {"ok": ok, "status": status, "answer": body}
            except OSError as exc:
                post_run[check] = {"ok": False, "status": 0, "answer": str(exc)}
    reports = read_reports(folder)
    if not reports:
        log = (folder / "locust.log").read_text(errors="replace").strip().splitlines()[-3:]
        raise RunFailed(f"no Locust worker reported; locust.log ends: {' | '.join(log)}")
    summary = summarize(plan, reports, settings.slo, post_run)
    summary = {"scenario": scenario.name, **summary}
    write_json(folder / "summary.json", summary)
    write_json(
        folder / "manifest.json",
        manifest(
            loaded, seed=seed, replications=args.demand_replications, workers=args.workers,
            extra={"kind": "load", "host": host, "started_api": not args.host,
                   "locust": _version("locust")},
            started=started, wall_seconds=time.perf_counter() - began,
        ),
    )  # fmt: skip
    from load.harness.report import write_report

    write_report(folder)
    return summary


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _progress(length: float, show: bool):
    from contextlib import contextmanager

    from tqdm import tqdm

    @contextmanager
    def bar():
        t = tqdm(
            total=round(length), unit="s", desc="load", disable=not show, file=sys.stderr,
            leave=False, bar_format="{desc} |{bar}| {n:.0f}/{total} s [{elapsed}]",
        )  # fmt: skip

        def tick(elapsed: float) -> None:
            t.n = min(elapsed, length)
            t.refresh()

        try:
            yield tick
        finally:
            t.close()

    return bar()


def _print(args: argparse.Namespace, summary: dict[str, Any], out: Path) -> None:
    from load.harness.summary import format_summary

    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(format_summary(summary))
    print(f"results: {out}", file=sys.stderr)
    if not summary["generator"]["healthy"]:
        print(summary["generator"]["message"], file=sys.stderr)
