"""``chakong demand``: the request rates a scenario implies for the query API."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.cli import options

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


DEMAND_HELP = "the request rates a scenario implies for the query API"

DEMAND_ABOUT = (
    "Run a scenario and report the request rates it implies for the "
    "query-and-control API: queries per channel and controls per action and asset type, "
    "per second, by hour of day (mean and peak), and the mix of request kinds."
)


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = options.command(sub, "demand", [scen], cmd_demand, DEMAND_HELP, DEMAND_ABOUT, DEMAND_EPILOG)
    options.add(
        p,
        "file",
        "replications",
        "seed",
        "scale",
        "out",
        "json",
        "no_progress",
        replications={"help": f"replications, run in this process (default {DEMAND_REPLICATIONS})"},
        out={"help": "write demand.json and manifest.json"},
    )


def cmd_demand(args: argparse.Namespace) -> int:
    from sim.results.folders import manifest, write_json
    from sim.study.demand import format_demand, run_demand
    from sim.study.skeleton import Folder, Stamp, conduct

    loaded = options.loaded_scenario(args)
    settings = options.settings(
        args,
        loaded.scenario.run,
        default_replications=DEMAND_REPLICATIONS,
        min_replications=1,
    )

    def write(folder: Path, demand: Demand, stamp: Stamp) -> None:
        write_json(folder / "demand.json", demand.figures)
        write_json(
            folder / "manifest.json",
            manifest(
                loaded,
                seed=settings.seed,
                replications=settings.replications,
                workers=1,
                extra={"kind": "demand"},
                started=stamp.started,
                wall_seconds=stamp.wall_seconds,
            ),
        )

    demand = conduct(
        lambda parts: Demand(
            run_demand(
                loaded,
                seed=settings.seed,
                replications=settings.replications,
                show_progress=settings.progress,
            )
        ),
        write,
        Folder(args.out, write=args.out is not None),
        "demand",
    )
    figures = demand.figures
    print(json.dumps(figures, ensure_ascii=False) if args.json else format_demand(figures))
    if args.out is not None:
        print(f"results: {args.out}", file=sys.stderr)
    return 0


@dataclass
class Demand:
    """The demand's figures, as a study outcome (for the skeleton)."""

    figures: dict[str, Any]
    out_dir: Path | None = None
