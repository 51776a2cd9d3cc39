"""The ``chakong`` command.

The core subcommands live in ``sim``; further subcommands (the load-testing half) are found
through the ``chakong.commands`` entry-point group, so ``sim`` never imports ``load``. A
plug-in entry point names a function ``register(subparsers, scenario_parent)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

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


def scenario_parent() -> argparse.ArgumentParser:
    """Options shared by every command that reads a scenario."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field (dotted path, TOML value); repeatable",
    )
    return parent


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


# ---------------------------------------------------------------- validate, schema


def _cmd_validate(args: argparse.Namespace) -> int:
    from sim.model.topology import Topology
    from sim.scenario import load_scenario

    failed = False
    for path in args.files:
        try:
            loaded = load_scenario(path, args.overrides)
        except UserError as exc:
            failed = True
            for line in exc.problems:
                print(line, file=sys.stderr)
            continue
        s = loaded.scenario
        print(
            f"{path}: ok ({s.name}: {len(s.regions)} regions, {len(s.agencies)} agencies, "
            f"channels {', '.join(s.channels)})"
        )
        if args.coverage:
            topo = Topology(s)
            for region, asset, channels in topo.coverage():
                reach = ", ".join(channels) if channels else "unreachable"
                print(f"  {region:<16} {asset.value:<16} {reach}")
    return 2 if failed else 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from sim.scenario.loader import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))
    return 0


def _register_core(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "validate",
        parents=[scen],
        help="check scenario files",
        description="Check scenario files. Prints one line per problem (file, field, what is "
        "wrong) and exits 2 when any file is bad.",
        epilog="example:\n  chakong validate scenarios/*.toml --coverage",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--coverage", action="store_true", help="also print which channels reach each asset type"
    )
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser(
        "schema",
        help="print the scenario JSON Schema",
        description="Print the JSON Schema of scenario files, for editor autocompletion "
        "(e.g. with Taplo or Even Better TOML: chakong schema > scenario.schema.json).",
    )
    p.set_defaults(func=_cmd_schema)

    from sim.cli import run as commands

    commands.register(sub, scen)


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chakong",
        description="chakong (查控): simulate and load-test court enforcement "
        "query-and-control networks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from sim import __version__

    parser.add_argument("--version", action="version", version=f"chakong {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    scen = scenario_parent()
    _register_core(sub, scen)
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


if __name__ == "__main__":
    sys.exit(main())
