"""``chakong validate`` and ``chakong schema``: scenario files, checked and described."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sim.cli import options
from sim.errors import UserError

VALIDATE_HELP = "check scenario files"

VALIDATE_ABOUT = (
    "Check scenario files. Prints one line per problem (file, field, what is "
    "wrong) and exits 2 when any file is bad."
)

VALIDATE_EPILOG = "example:\n  chakong validate scenarios/*.toml --coverage"


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = options.command(
        sub, "validate", [scen], cmd_validate, VALIDATE_HELP, VALIDATE_ABOUT, VALIDATE_EPILOG
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--coverage", action="store_true", help="also print which channels reach each asset type"
    )
    sub.add_parser(
        "schema",
        help="print the scenario JSON Schema",
        description="Print the JSON Schema of scenario files, for editor autocompletion "
        "(e.g. with Taplo or Even Better TOML: chakong schema > scenario.schema.json).",
    ).set_defaults(func=cmd_schema)


def cmd_validate(args: argparse.Namespace) -> int:
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
            from sim.model.topology import Topology  # networkx: only for --coverage

            topo = Topology(s)
            for region, asset, channels in topo.coverage():
                reach = ", ".join(channels) if channels else "unreachable"
                print(f"  {region:<16} {asset.value:<16} {reach}")
    return 2 if failed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from sim.scenario.loader import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))
    return 0
