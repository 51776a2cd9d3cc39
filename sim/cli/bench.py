"""``chakong bench``: the cost of a case against a textbook SimPy queue, or a national year."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sim.cli import options

BENCH_HELP = "benchmark: cases per second against a textbook SimPy M/M/c, memory growth"

BENCH_ABOUT = (
    "Run the baseline scenario (one replication, streaming statistics) and a "
    "textbook SimPy M/M/c model in the same process; print cases_per_second, "
    "textbook_customers_per_second and their ratio, and peak memory at 1x and 4x the "
    "simulated time."
)

BENCH_EPILOG = """\
examples:
  chakong bench
  chakong bench --json --repeat 5
  chakong bench --national              # one full-scale national year: slow
  chakong bench --national --scale 0.1"""


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = options.command(sub, "bench", [], cmd_bench, BENCH_HELP, BENCH_ABOUT, BENCH_EPILOG)
    p.add_argument(
        "--scenario",
        type=Path,
        default=None,
        metavar="FILE",
        help="scenario to time (default: scenarios/baseline.toml)",
    )
    p.add_argument(
        "--repeat",
        type=options.positive_int,
        default=3,
        metavar="K",
        help="timing rounds; the best of each side is reported (default 3)",
    )
    p.add_argument(
        "--national",
        action="store_true",
        help="time one replication of the national scenario instead (wall seconds, peak "
        "resident memory; targets 120 s and 4 GiB at full scale)",
    )
    options.add(
        p,
        "scale",
        "json",
        scale={
            "default": 1.0,
            "help": "with --national: the fraction of the volume (default 1, the whole country)",
        },
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from sim.engine import bench

    if args.national:
        result = bench.run_national_bench(args.scenario, args.scale)
        print(json.dumps(result) if args.json else bench.format_national_bench(result))
        return 0
    result = bench.run_bench(args.scenario, args.repeat)
    print(json.dumps(result) if args.json else bench.format_bench(result))
    return 0
