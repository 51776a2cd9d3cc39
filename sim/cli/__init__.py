"""The ``chakong`` command: a thin layer over the studies of :mod:`sim.study` (the same
resolver of settings and the same study functions as the Python API, :mod:`sim.api`).

Each module registers its subcommands: :mod:`~sim.cli.validate` (validate, schema),
:mod:`~sim.cli.run` (run, verify, calibrate), :mod:`~sim.cli.bench`,
:mod:`~sim.cli.studies` (compare, sweep, report) and :mod:`~sim.cli.demand`; their options
are declared once in :mod:`~sim.cli.options`. Further subcommands (the load-testing half)
are found through the ``chakong.commands`` entry-point group, so ``sim`` never imports
``load``. A plug-in entry point names a function ``register(subparsers, scenario_parent)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from sim._version import __version__
from sim.cli import bench, demand, options, run, studies, validate
from sim.errors import UserError

EPILOG = """\
examples:
  chakong validate scenarios/baseline.toml scenarios/validation/*.toml
  chakong run scenarios/baseline.toml
  chakong run scenarios/baseline.toml --replications 20 --seed 7 --json
  chakong run scenarios/baseline.toml --set regions.hunan.officers=20 --out results/hunan20
  chakong verify scenarios/validation/mmc.toml --set regions.court.officers=8
  chakong schema > scenario.schema.json
  chakong bench
  chakong demand scenarios/baseline.toml
  chakong serve --scenario scenarios/baseline.toml --fixtures-out fixtures.json
  chakong load scenarios/baseline.toml --duration 30s

Every command that takes a scenario accepts --set PATH=VALUE (repeatable): a dotted path
into the file and a TOML value, e.g. --set 'regions.hunan.claim_yuan={kind="constant",value=5e4}'.
"""


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chakong",
        description="chakong (查控): simulate and load-test court enforcement "
        "query-and-control networks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"chakong {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    scen = options.scenario_parent()
    for module in (validate, run, bench, studies, demand):
        module.register(sub, scen)
    for ep in sorted(entry_points(group="chakong.commands"), key=lambda e: e.name):
        register: Callable[[Any, argparse.ArgumentParser], None] = ep.load()
        register(sub, scen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        for line in exc.problems:
            print(f"chakong {args.command}: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("chakong: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
