"""Every option of the ``chakong`` command, declared once, and the steps every study
command shares: read the scenario, resolve the settings, run the study with the report as
its finish hook, print.

An option's value rules are the study layer's (:mod:`sim.study.settings`): the argument
types here parse the text and ask the same ``*_problem`` functions the Python API's
resolver asks, so ``--replications 0``, ``--scale 2`` or ``--precision 5`` are refused
with the same words either way. They come from the light modules
(:mod:`sim.study.limits`, :mod:`sim.scenario.scaling`): declaring the options must not
import the engine, numpy or scipy, so that ``chakong --help`` starts at once; each
command imports what it runs inside its function.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sim.scenario.scaling import scale_problem
from sim.study.limits import (
    DEFAULT_CAP,
    DEFAULT_MAX_EVALUATIONS,
    INITIAL_REPLICATIONS,
    MIN_SAMPLES,
    at_least_problem,
    target_problem,
)

if TYPE_CHECKING:
    from sim.engine.executors import Executor
    from sim.scenario.loader import LoadedScenario
    from sim.scenario.schema import RunDefaults
    from sim.study.settings import Settings
    from sim.study.skeleton import Folder

# ---------------------------------------------------------------- argument types


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        problem = at_least_problem(value, minimum)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


positive_int = whole_number(1)
non_negative_int = whole_number(0)
design_samples = whole_number(MIN_SAMPLES)  # --samples of a fit


def _number(example: str, problem: Callable[[float], str | None]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number{example}, got '{text}'") from None
        why = problem(value)
        if why:
            raise argparse.ArgumentTypeError(why)
        return value

    return parse


scale_fraction = _number("", scale_problem)  # --scale: in (0, 1]
precision_target = _number(" such as 0.02", target_problem)  # --precision: in (0, 1)


def scale_fractions(text: str) -> list[float]:
    """An argparse type: one or more scales separated by commas (``0.01,0.05,0.2``), each
    in (0, 1]."""
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected scales separated by commas, got '{text}'")
    return [scale_fraction(part) for part in parts]


# ---------------------------------------------------------------- the options


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


OPTIONS: dict[str, Option] = {
    "file": Option(("file",), {"metavar": "FILE", "help": "scenario file (TOML)"}),
    "replications": Option(
        ("--replications",),
        {
            "type": positive_int,
            "metavar": "N",
            "help": "replications (default: the scenario's [run] replications, the base "
            f"scenario's for several; with --precision, where the algorithm starts: "
            f"{INITIAL_REPLICATIONS})",
        },
    ),
    "seed": Option(
        ("--seed",),
        {
            "type": non_negative_int,
            "metavar": "S",
            "help": "seed (default: the scenario's [run] seed)",
        },
    ),
    "workers": Option(
        ("--workers",),
        {
            "type": positive_int,
            "metavar": "W",
            "help": "parallel processes (default: all cores); results do not depend on it",
        },
    ),
    "scale": Option(
        ("--scale",),
        {
            "type": scale_fraction,
            "metavar": "F",
            "help": "run this fraction of the volume, resources scaled alike (default: the "
            "scenario's [run] scale, usually 1; every scenario at the base scenario's)",
        },
    ),
    "out": Option(
        ("--out",),
        {"type": Path, "metavar": "DIR", "help": "results folder (must be new)"},
    ),
    "json": Option(
        ("--json",), {"action": "store_true", "help": "print one JSON object on stdout"}
    ),
    "no_progress": Option(
        ("--no-progress",),
        {"dest": "progress", "action": "store_false", "help": "no progress bar on stderr"},
    ),
    "no_records": Option(
        ("--no-records",),
        {
            "action": "store_true",
            "help": "do not write cases.csv and events.csv (streaming statistics only)",
        },
    ),
    "precision": Option(
        ("--precision",),
        {
            "type": precision_target,
            "metavar": "P",
            "help": "add replications until every 95%% half-width is under P x mean (e.g. 0.02)",
        },
    ),
    "max_replications": Option(
        ("--max-replications",),
        {
            "type": positive_int,
            "metavar": "N",
            "help": f"with --precision: the cap on replications (default {DEFAULT_CAP})",
        },
    ),
    "precision_metrics": Option(
        ("--precision-metric",),
        {
            "dest": "precision_metrics",
            "action": "append",
            "default": [],
            "metavar": "NAME",
            "help": "with --precision: judge only these metrics (repeatable; default: every one)",
        },
    ),
    "dask": Option(
        ("--dask",),
        {
            "metavar": "ADDRESS",
            "help": "run on a Dask cluster (scheduler address, e.g. tcp://10.0.0.5:8786) "
            "instead of local processes; results are identical",
        },
    ),
    "split": Option(
        ("--split",),
        {
            "type": positive_int,
            "metavar": "N",
            "help": "run each replication's regions in N parts at once (processes here, or "
            "tasks with --dask), replications one after another; results are identical "
            "(statistics only: with --no-records)",
        },
    ),
    "no_report": Option(
        ("--no-report",), {"action": "store_true", "help": "do not write report.html"}
    ),
    "fit_samples": Option(
        ("--samples",),
        {
            "dest": "samples",
            "type": design_samples,
            "metavar": "N",
            "help": "with --fit: points of the Latin hypercube design (default: 2 x "
            "parameters + 2)",
        },
    ),
    "max_evaluations": Option(
        ("--max-evaluations",),
        {
            "type": positive_int,
            "metavar": "N",
            "help": "with --fit: evaluations the local search may spend (default "
            f"{DEFAULT_MAX_EVALUATIONS})",
        },
    ),
}

RUN = ("file", "replications", "seed", "workers", "scale", "json", "no_progress")
"""What every command that runs one scenario takes."""

STUDY = ("replications", "seed", "workers", "scale", "out", "json", "no_progress")
PRECISION = ("precision", "max_replications", "precision_metrics", "dask", "no_report")
"""What run, compare and sweep take beside their scenarios."""

PRECISION_HELP = """\
--precision P adds replications until every headline metric's 95% interval has a
half-width under P times its mean (P=0.02: 2%), or --max-replications is reached, with the
replication algorithm of Hoad, Robinson and Davies (2010): start from --replications
(default 3), and accept once the target has held for 5 more replications. Rates under 1%
are judged against 1 percentage point; metrics that never vary meet any target; metrics
never observed are not judged. The output says which happened."""


def add(parser: argparse._ActionsContainer, *names: str, **changes: Any) -> None:
    """Add the named options to a parser or an argument group; ``changes`` maps a name to
    argparse keywords to change (a command's own help or default)."""
    for name in names:
        option = OPTIONS[name]
        parser.add_argument(*option.flags, **(option.kwargs | changes.get(name, {})))


def scenario_parent() -> argparse.ArgumentParser:
    """Options shared by every command that reads a scenario: ``--set``."""
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


def command(
    sub: Any,
    name: str,
    parents: list[argparse.ArgumentParser],
    func: Callable[[argparse.Namespace], int],
    help: str,
    description: str,
    epilog: str,
) -> argparse.ArgumentParser:
    """A subcommand: its one-line help, its description and its examples (laid out as
    written), and the function that runs it."""
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=parents,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=func)
    return p


# ---------------------------------------------------------------- shared steps


def loaded_scenario(args: argparse.Namespace, file: str | Path | None = None) -> LoadedScenario:
    """The scenario named on the command line, with ``--set`` and ``--scale`` applied."""
    from sim.scenario import load_scenario
    from sim.study.settings import scaled

    return scaled(load_scenario(file or args.file, args.overrides), getattr(args, "scale", None))


def settings(args: argparse.Namespace, defaults: RunDefaults, **study: Any) -> Settings:
    """The study's settings from the flags (absent flags take the resolver's defaults)."""
    from sim.study.settings import resolve_given

    return resolve_given(defaults, vars(args), **study)


class Outcome(Protocol):
    out_dir: Path | None

    def to_json(self) -> dict[str, Any]: ...


OutcomeT = TypeVar("OutcomeT", bound=Outcome)


def study(
    args: argparse.Namespace,
    resolved: Settings,
    run: Callable[[Settings, Executor, Folder], OutcomeT],
    table: Callable[[OutcomeT], str],
) -> int:
    """Run the study into its results folder (``--out``; the report as its finish hook),
    print its JSON object or its table, and say where the folder and its report are."""
    from sim.reporting.build import finish
    from sim.results.folders import check_destination
    from sim.study.skeleton import Folder

    if args.out is not None:
        check_destination(args.out)  # before any work
    report = not args.no_report
    with resolved.executor() as executor:
        outcome = run(resolved, executor, Folder(args.out, True, partial(finish, html=report)))
    print(json.dumps(outcome.to_json(), ensure_ascii=False) if args.json else table(outcome))
    print(f"results: {outcome.out_dir}", file=sys.stderr)
    if report and outcome.out_dir is not None:
        print(f"report: {outcome.out_dir / 'report.html'}", file=sys.stderr)
    return 0
