"""``chakong bench``: the cost of a case against a textbook SimPy queue, or the national
scenario at several scales."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sim.cli import options
from sim.errors import UserError

BENCH_HELP = "benchmark: a case's cost against a textbook SimPy M/M/c, events, memory"

BENCH_ABOUT = (
    "Run the baseline scenario (one replication, streaming statistics) and a textbook SimPy "
    "M/M/c model in the same process; print cases_per_second, "
    "textbook_customers_per_second and their ratio (target >= 0.4), SimPy events per matter "
    "and per textbook customer (counted in separate untimed runs), and peak memory at 1x "
    "and 4x the simulated time.\n\n"
    "With --national: one replication of the national scenario at each --scale, each in a "
    "fresh process of its own; print matters filed, wall and CPU seconds, peak resident "
    "memory, matters per second and the cost per matter in textbook customers (the textbook "
    "timed between the runs), relative to the smallest scale (targets: the largest within "
    "10%; at scale 1, <= 600 s on 2 cores and <= 1.5 GiB); with --repeat, rounds of "
    "every scale in turn, each scale's best round reported, and each round's relative cost; "
    "with --split, each scale also split by region into that many parts (processes), its "
    "wall and CPU seconds, peak memory, speed-up and whether its results are the unsplit "
    "run's to the bit."
)

BENCH_EPILOG = """\
examples:
  chakong bench
  chakong bench --json --repeat 5
  chakong bench --national --scale 0.01,0.05,0.2   # the scale penalty of the cost per matter
  chakong bench --national --scale 0.01,0.2 --repeat 3   # best of 3 rounds: a noisy machine
  chakong bench --national --scale 0.1 --split 1,2   # one replication split by region
  chakong bench --national                          # one full-scale national replication: slow"""


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = options.command(sub, "bench", [], cmd_bench, BENCH_HELP, BENCH_ABOUT, BENCH_EPILOG)
    p.add_argument(
        "--scenario",
        type=Path,
        default=None,
        metavar="FILE",
        help="scenario to time (default: scenarios/baseline.toml; with --national, "
        "scenarios/national-2023.toml)",
    )
    p.add_argument(
        "--repeat",
        type=options.positive_int,
        default=None,
        metavar="K",
        help="timing rounds; the best of each side is reported (default 3); with "
        "--national, rounds of every scale in turn, each scale's best reported (default 1)",
    )
    p.add_argument(
        "--national",
        action="store_true",
        help="time the national scenario instead: one replication a scale, each in its own "
        "process (wall and CPU seconds, peak resident memory, cost per matter)",
    )
    options.add(
        p,
        "scale",
        "json",
        "no_progress",
        scale={
            "type": options.scale_fractions,
            "default": None,
            "metavar": "F[,F...]",
            "help": "with --national: the fractions of the volume to run, separated by "
            "commas, each in (0, 1] (default 1, the whole country)",
        },
        no_progress={"help": "with --national: no progress bar on stderr"},
    )
    p.add_argument(
        "--split",
        type=part_counts,
        default=None,
        metavar="N[,N...]",
        help="with --national: also run each scale split by region into N parts (processes), "
        "for each N given, separated by commas",
    )


def part_counts(text: str) -> list[int]:
    """``--split``'s value: parts, each a whole number of at least 1, separated by commas."""
    counts = []
    for item in text.split(","):
        try:
            n = int(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {item!r}") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"parts must be at least 1, not {n}")
        counts.append(n)
    return counts


def cmd_bench(args: argparse.Namespace) -> int:
    if args.national:
        from sim.engine import national_bench

        national = national_bench.run_national_bench(
            args.scenario, args.scale or [1.0], args.progress, args.repeat or 1, args.split or ()
        )
        print(json.dumps(national) if args.json else national_bench.format_national_bench(national))
        return 0
    if args.scale is not None:
        raise UserError("--scale applies with --national only")
    if args.split is not None:
        raise UserError("--split applies with --national only")
    from sim.engine import bench

    result = bench.run_bench(args.scenario, args.repeat or 3)
    print(json.dumps(result) if args.json else bench.format_bench(result))
    return 0
