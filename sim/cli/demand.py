"""``chakong demand``: the request rates a scenario implies for the query-and-control API."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sim.cli import options
from sim.study.limits import DEMAND_REPLICATIONS

DEMAND_EPILOG = """\
examples:
  chakong demand scenarios/baseline.toml
  chakong demand scenarios/national-2023.toml --replications 3 --json
  chakong demand scenarios/baseline.toml --set regions.hunan.arrival_rate_per_day=24
  chakong demand scenarios/national-2023.toml --out results/demand-national

Runs the scenario with its event log and maps events to logical requests: file_case
(filed and restored matters), query by channel (one per case, channel and instant), and
control by action (freeze attempts, renew, deduct, unfreeze; online controls only,
in-person ones listed apart) and asset type. Rates are per second of wall time at full
volume (a run at --scale F is divided by the volume it kept; the scale is stated): over
the window, and for a working day hour by hour, its peak hour against its 24-hour mean,
its peak minute; then weekdays, weekends and public holidays (when the scenario has a
holiday calendar). Intervals are 95% over replications, on the log scale (never below
zero). chakong load sizes its traffic from these figures. --out DIR writes demand.json,
manifest.json and report.html (plots of the working day, the peak hour, the kinds of day).
"""


DEMAND_HELP = "the request rates a scenario implies for the query API"

DEMAND_ABOUT = (
    "Run a scenario and report the requests it puts on the query-and-control network "
    "(logical requests: file_case, query by channel, control by action and asset type) at "
    "full volume: per second, a working day hour by hour with its peak hour and peak "
    "minute, weekdays against weekends and public holidays, with 95% intervals."
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
        "no_report",
        replications={"help": f"replications, run in this process (default {DEMAND_REPLICATIONS})"},
        out={"help": "write demand.json, manifest.json and report.html"},
    )


def cmd_demand(args: argparse.Namespace) -> int:
    from sim.reporting.build import finish
    from sim.reporting.demand import format_demand
    from sim.results.folders import manifest, write_json
    from sim.study.demand import run_demand
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
        Folder(args.out, args.out is not None, partial(finish, html=not args.no_report)),
        "demand",
    )
    figures = demand.figures
    print(json.dumps(figures, ensure_ascii=False) if args.json else format_demand(figures))
    if args.out is not None:
        print(f"results: {args.out}", file=sys.stderr)
        if not args.no_report:
            print(f"report: {args.out / 'report.html'}", file=sys.stderr)
    return 0


@dataclass
class Demand:
    """The demand's figures, as a study outcome (for the skeleton)."""

    figures: dict[str, Any]
    out_dir: Path | None = None
