"""``chakong load``: a Locust load test of a query-and-control API, driven by a scenario.

Registered through the ``chakong.commands`` entry point. This process checks every input
(flags, the adapter, the thresholds, the fixtures), starts the reference API when no
``--host`` is given, preflights the target, takes the simulated demand (cached by the
scenario's hash), runs Locust in child processes (:mod:`load.harness.run`; Locust and
gevent are never imported here), writes the results folder and exits 0 when every check
holds, 1 when one fails (a threshold, the mix, a violation, an unhealthy generator), 2 on
bad input or a target that does not answer as its adapter says. SIGTERM stops it like
Ctrl-C: children stopped, no folder left half-written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import signal
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
    share,
)
from load.harness.shapes import SHAPES
from sim.cli import options
from sim.errors import UserError

CONTROL_MODES = ("scenario", "instant")
LOCUST_FLAGS = ("workers", "remote_workers", "master_bind", "master_port", "ui")  # group processes
DEFAULT_CONTROLS = "scenario"

LOAD_EPILOG = """\
examples:
  chakong load scenarios/baseline.toml --duration 30s
  chakong load scenarios/baseline.toml --duration 60s --warmup 10s --workers 2 --json
  chakong load scenarios/baseline.toml --rate 200 --duration 2m --shape ramp
  chakong load scenarios/baseline.toml --threshold 'freeze: corrected_p99 < 300' \\
      --threshold 'all: error_rate < 0.01 abort'
  chakong load scenarios/baseline.toml --host http://127.0.0.1:9000 --fixtures fx.json \\
      --adapter my-api.toml
  chakong load scenarios/national-2023.toml --scale 0.02 --find-capacity --rate 50
  chakong load scenarios/baseline.toml --demand-multiplier 20000 --ui
  chakong load scenarios/baseline.toml --controls instant       # controls decided at once
  chakong load scenarios/baseline.toml --faults 0.05 --duration 2m   # agencies misbehave

Without --host the reference API (chakong serve) is started on a free loopback port with
an embedded SQLite database and its agencies on a fast clock ([load] api_time_scale), and
stopped afterwards; its controls go through the agencies (--controls scenario, the
default unless the scenario's [api] says otherwise: accepted, then polled until done,
failed or refused, as a real client does) or are decided at once (--controls instant);
--faults P makes its agencies answer late, never or twice, each with chance P. --adapter
maps chakong's logical requests (file_case, send_query, poll_query, read_case, freeze,
deduct, unfreeze, renew, poll_control) to another API's calls; a preflight calls each once
and exits 2 when the target does not answer as the adapter says. The
target rate is --rate, or the simulated peak-hour rate (chakong demand, cached per
scenario) times --demand-multiplier. Requests start as a Poisson process on an absolute
clock (open workload), each logical request at its share of the simulated mix; latency is
reported from the actual and from the intended send (corrected for coordinated omission).

Results (default results/load-<scenario>/<UTC time>/): summary.json (the --json object),
report.html (verdicts, time series, the simulated mix beside the measured one, latency),
manifest.json, plan.json (no tokens), demand.json, preflight.json, Locust's locust_*.csv
and locust.html, worker-N.json (HDR histograms), live.jsonl, logs. Exit 0: every check
held; 1: a check failed; 2: bad input, or the target failed preflight.
"""


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = options.command(
        sub,
        "load",
        [scen],
        cmd_load,
        help="load-test a query API with traffic from a scenario (Locust, open workload)",
        description="Load-test a query-and-control API with the traffic a scenario implies: "
        "Poisson arrivals at the target rate in the simulated mix of logical requests, "
        "court flows through a target adapter, HDR latency corrected for coordinated "
        "omission, thresholds, time series.",
        epilog=LOAD_EPILOG,
    )
    options.add(p, "file")
    target = p.add_argument_group("target")
    target.add_argument("--host", metavar="URL", help="a running API (needs --fixtures)")
    target.add_argument(
        "--fixtures",
        type=Path,
        metavar="FILE",
        help="the API's fixtures JSON (courts, tokens, debtors)",
    )
    target.add_argument(
        "--adapter",
        type=Path,
        metavar="FILE",
        help="target adapter (TOML; default: the reference API's)",
    )
    target.add_argument(
        "--controls",
        choices=CONTROL_MODES,
        help="how the reference API decides controls ([api] controls): scenario (the "
        "default unless the scenario says: accepted, carried out by the agency on its "
        "clock, polled) or instant (at once); with --host, what the target does, for the "
        "plan's polls",
    )
    target.add_argument(
        "--faults",
        type=share,
        metavar="P",
        help="agency faults ([api.faults]): each answer an agency owes is late past the "
        "API's deadline, lost, or sent twice, each with chance P (at most 0.5)",
    )
    traffic = p.add_argument_group("traffic")
    rate = traffic.add_mutually_exclusive_group()
    rate.add_argument("--rate", type=positive_float, metavar="R", help="target requests/s")
    rate.add_argument(
        "--demand-multiplier",
        type=positive_float,
        metavar="M",
        help="target = simulated peak-hour rate x M",
    )
    traffic.add_argument(
        "--duration", type=duration, metavar="D", help="run length, warm-up included (30s, 2m, 1h)"
    )
    traffic.add_argument(
        "--warmup", type=duration, metavar="D", help="first part of the run left out of the verdict"
    )
    traffic.add_argument("--shape", choices=SHAPES, help="load over the run (default: flat)")
    options.add(
        traffic,
        "seed",
        "scale",
        seed={"help": "seed of the arrivals"},
        scale={
            "help": "simulate the demand at this fraction of the volume (rates are scaled back up)"
        },
    )
    traffic.add_argument(
        "--demand-replications",
        type=positive_int,
        default=1,
        metavar="K",
        help="replications of the simulation for the demand (default 1)",
    )
    traffic.add_argument(
        "--no-demand-cache",
        action="store_true",
        help="simulate the demand again instead of reusing the cached one",
    )
    checks = p.add_argument_group("checks")
    checks.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="'NAME: METRIC OP V'",
        help="e.g. 'freeze: corrected_p99 < 500', 'all: error_rate < 0.01 "
        "abort' (repeatable; beside the scenario's [load.slo])",
    )
    checks.add_argument(
        "--find-capacity",
        action="store_true",
        help="step the rate up from the target until a check fails",
    )
    checks.add_argument(
        "--step-duration",
        type=duration,
        metavar="D",
        help="--find-capacity: length of each step (default 20s)",
    )
    checks.add_argument(
        "--capacity-factor",
        type=positive_float,
        default=1.5,
        metavar="X",
        help="--find-capacity: rate growth per step (default 1.5)",
    )
    checks.add_argument(
        "--max-steps",
        type=positive_int,
        default=8,
        metavar="N",
        help="--find-capacity: most steps (default 8)",
    )
    procs = p.add_argument_group("processes")
    procs.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="Locust worker processes (N > 1: a master and N workers)",
    )
    procs.add_argument(
        "--remote-workers",
        type=non_negative_int,
        default=0,
        metavar="K",
        help="also wait for K workers started on other machines (see README)",
    )
    procs.add_argument(
        "--master-bind",
        default="127.0.0.1",
        metavar="HOST",
        help="address the Locust master listens on (remote workers: 0.0.0.0)",
    )
    procs.add_argument("--master-port", type=port_number, metavar="P", help="Locust master port")
    procs.add_argument(
        "--ui", action="store_true", help="serve Locust's web UI on a free loopback port (printed)"
    )
    out = p.add_argument_group("output")
    options.add(out, "out")
    out.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    out.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


def api_overrides(
    controls: str | None, faults: float | None, scenario: Any, started_here: bool
) -> list[str]:
    """``--controls`` and ``--faults`` as ``--set`` overrides of the scenario's ``[api]``.

    The reference API started here runs its controls through the agencies (``scenario``)
    unless ``--controls`` or the scenario's own ``[api] controls`` says otherwise: a load
    test should meet what a real hub does (a control accepted, then carried out by its
    agency on the clock, followed by polls as a real client polls); ``instant`` (``chakong
    serve``'s own default) stays one flag away. A target given with ``--host`` is taken to
    run as the scenario's ``[api]`` says (as ``chakong serve`` of that scenario does)."""
    out = []
    api = scenario.api
    chosen = "controls" in api.model_fields_set or not started_here
    mode = controls or (api.controls if chosen else DEFAULT_CONTROLS)
    if mode != api.controls:
        out.append(f"api.controls={mode}")
    if faults is not None:
        kinds = ("timeout", "lost_reply", "duplicate_reply")
        out += [f"api.faults.{k}_probability={faults!r}" for k in kinds]
    return out


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_load(args: argparse.Namespace) -> int:
    """Check everything, then run with SIGTERM handled like Ctrl-C."""
    from load.harness.plan import read_fixtures
    from load.harness.shapes import check_warmup
    from load.harness.thresholds import collect
    from load.target.adapter import load_adapter
    from sim.results.folders import check_destination, default_results_dir
    from sim.scenario import load_scenario

    if args.host and not args.fixtures:
        raise UserError("--host: needs --fixtures FILE (the API's courts, tokens and debtors)")
    if args.fixtures and not args.host:
        raise UserError("--fixtures: only with --host (without it the API is started here)")
    if not args.find_capacity and (args.step_duration or args.max_steps != 8):
        raise UserError("--step-duration, --max-steps: only with --find-capacity")
    if args.faults is not None and args.faults > 0.5:
        raise UserError(
            f"--faults {args.faults:g}: at most 0.5 (a late and a lost answer together are "
            "at most certain)"
        )
    loaded = load_scenario(args.file, args.overrides)
    extra = api_overrides(args.controls, args.faults, loaded.scenario, not args.host)
    if extra:  # the API started here and the plan see them; the demand does not depend on them
        loaded = load_scenario(args.file, [*args.overrides, *extra])
    settings = loaded.scenario.load
    scale = args.scale if args.scale is not None else loaded.scenario.run.scale
    if scale != 1:
        loaded = loaded.scaled(scale)
    adapter = load_adapter(args.adapter if args.adapter else settings.adapter)
    thresholds = collect(settings.slo, args.threshold, adapter)
    length = (
        (args.step_duration or 20.0)
        if args.find_capacity
        else (args.duration or settings.duration_seconds)
    )
    warmup = args.warmup if args.warmup is not None else settings.warmup_seconds
    check_warmup(warmup, length)
    if args.fixtures:
        read_fixtures(args.fixtures)  # bad fixtures: exit 2 before any work
    out = args.out or default_results_dir(f"load-{loaded.scenario.name}")
    check_destination(out)
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        summary = _run(args, loaded, adapter, thresholds, out, length, warmup)
    finally:
        signal.signal(signal.SIGTERM, previous)
    _print(args, summary, out)
    return 0 if summary["slo"]["passed"] else 1


def _run(args, loaded, adapter, thresholds, out: Path, length: float, warmup: float):
    from load.harness import plan as planning
    from load.harness import run as running
    from load.harness.capacity import find_capacity
    from load.harness.demand_cache import demand_for
    from load.harness.report import write_report
    from load.harness.shapes import describe, segments_for
    from load.target.preflight import preflight
    from sim.results.folders import manifest, results_folder, write_json

    scenario = loaded.scenario
    settings = scenario.load
    seed = scenario.run.seed if args.seed is None else args.seed
    shape = "flat" if args.find_capacity else (args.shape or settings.shape)
    started, began = dt.datetime.now(dt.UTC), time.perf_counter()
    show = not args.no_progress
    with results_folder(out) as tmp, running.private_folder() as private:
        with running.target(loaded, args.file, args.host, args.fixtures, seed, tmp, private) as tgt:
            checked = preflight(
                tgt.host, adapter, tgt.fixtures, run_id=f"preflight-{secrets.token_hex(6)}"
            )
            write_json(tmp / "preflight.json", checked)
            demand, source = demand_for(
                loaded,
                seed=seed,
                replications=args.demand_replications,
                show_progress=show,
                use_cache=not args.no_demand_cache,
            )
            write_json(tmp / "demand.json", demand)
            if show:
                print(f"demand: {source}", file=sys.stderr)
            rate = planning.target_rate(scenario, demand, args.rate, args.demand_multiplier)

            # how Locust runs: the flags of the same names, the same for every step
            locust = {name: getattr(args, name) for name in LOCUST_FLAGS}

            def step(at: float, folder: Path, kind: str = shape) -> dict[str, Any]:
                spec = running.Step(
                    rate=at,
                    segments=segments_for(kind, at, length, settings, demand),
                    shape=describe(kind, settings, warmup),
                    duration_s=length,
                    warmup_s=warmup,
                    show_progress=show,
                    **locust,
                )
                s = running.run_step(loaded, demand, adapter, tgt, thresholds, spec, seed, folder)
                write_json(folder / "summary.json", s)
                return s

            if args.find_capacity:
                capacity = find_capacity(
                    step,
                    rate,
                    args.capacity_factor,
                    args.max_steps,
                    tmp,
                    demand,
                    lambda line: print(line, file=sys.stderr) if show else None,
                )
                summary = {
                    "scenario": scenario.name,
                    "kind": "capacity",
                    **capacity,
                    "slo": {"passed": capacity["passed"], "checks": []},
                    "generator": {"healthy": True, "message": ""},
                }
                write_json(tmp / "summary.json", summary)
            else:
                summary = step(rate, tmp)
        extra = {
            "kind": "capacity" if args.find_capacity else "load",
            "host": tgt.host,
            "started_api": tgt.started_here,
            "adapter": adapter.name,
            "api": {"controls": scenario.api.controls, "faults": scenario.api.faults.model_dump()},
            "locust": _version("locust"),
            "demand": source,
        }
        write_json(
            tmp / "manifest.json",
            manifest(
                loaded,
                seed=seed,
                replications=args.demand_replications,
                workers=args.workers,
                extra=extra,
                started=started,
                wall_seconds=time.perf_counter() - began,
            ),
        )
        write_report(tmp)
    return summary


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _print(args: argparse.Namespace, summary: dict[str, Any], out: Path) -> None:
    from load.harness.summary import format_summary

    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    elif summary.get("kind") == "capacity":
        print(summary["verdict"])
    else:
        print(format_summary(summary))
    print(f"results: {out}", file=sys.stderr)
    if not summary["generator"]["healthy"]:
        print(summary["generator"]["message"], file=sys.stderr)
