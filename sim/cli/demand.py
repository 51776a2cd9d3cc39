"""``chakong demand``: the request rates a scenario implies for the query API."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from sim.cli import non_negative_int, positive_int

DEMAND_REPLICATIONS = 2  # demand is a sizing figure: two replications give it an interval

DEMAND_EPILOG = """\
examples:
  chakong demand scenarios/baseline.toml
  chakong demand scenarios/national-2023.toml --scale 0.1 --replications 3 --json
  chakong demand scenarios/baseline.toml --set regions.hunan.arrival_rate_per_day=24
  chakong demand scenarios/baseline.toml --out results/demand-baseline

Runs the scenario with its event log and maps events to API requests: POST /v1/cases
(filed and restored matters), POST /v1/queries by channel (one per case, channel and
instant), POST /v1/controls by action (freeze attempts, renew, deduct, unfreeze; online
controls only, in-person ones listed apart) and asset type. Rates are per second of wall
time, over the observation window, overall and by hour of day (mean, peak hour, busiest
single hour), with 95% intervals over replications. chakong load sizes its traffic from
these figures. --out DIR writes demand.json and manifest.json.
"""


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    from sim.cli.run import fraction

    p = sub.add_parser(
        "demand",
        parents=[scen],
        help="the request rates a scenario implies for the query API",
        description="Run a scenario and report the request rates it implies for the "
        "query-and-control API: queries per channel and controls per action and asset type, "
        "per second, by hour of day (mean and peak), and the mix of request kinds.",
        epilog=DEMAND_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="scenario file (TOML)")
    p.add_argument(
        "--replications",
        type=positive_int,
        default=DEMAND_REPLICATIONS,
        metavar="N",
        help=f"replications, run in this process (default {DEMAND_REPLICATIONS})",
    )
    p.add_argument(
        "--seed", type=non_negative_int, metavar="S", help="seed (default: the scenario's)"
    )
    p.add_argument("--scale", type=fraction, metavar="F", help="run this fraction of the volume")
    p.add_argument("--out", type=Path, metavar="DIR", help="write demand.json and manifest.json")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_demand)


def cmd_demand(args: argparse.Namespace) -> int:
    from sim.results.folders import check_destination, manifest, results_folder, write_json
    from sim.scenario import load_scenario
    from sim.study.demand import format_demand, run_demand

    loaded = load_scenario(args.file, args.overrides)
    scale = args.scale if args.scale is not None else loaded.scenario.run.scale
    if scale != 1:
        loaded = loaded.scaled(scale)
    seed = loaded.scenario.run.seed if args.seed is None else args.seed
    if args.out is not None:
        check_destination(args.out)
    started, began = dt.datetime.now(dt.UTC), time.perf_counter()
    demand = run_demand(
        loaded, seed=seed, replications=args.replications, show_progress=not args.no_progress
    )
    print(json.dumps(demand, ensure_ascii=False) if args.json else format_demand(demand))
    if args.out is not None:
        with results_folder(args.out) as tmp:
            write_json(tmp / "demand.json", demand)
            write_json(
                tmp / "manifest.json",
                manifest(
                    loaded,
                    seed=seed,
                    replications=args.replications,
                    workers=1,
                    extra={"kind": "demand"},
                    started=started,
                    wall_seconds=time.perf_counter() - began,
                ),
            )
        print(f"results: {args.out}", file=sys.stderr)
    return 0
