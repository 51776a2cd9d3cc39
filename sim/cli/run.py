"""The simulation subcommands of ``chakong``: run, verify, bench (and, from
:mod:`sim.cli.studies`, compare, sweep and report)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sim.cli import non_negative_int, positive_int
from sim.cli import studies as study_commands
from sim.errors import UserError

RUN_EPILOG = """\
examples:
  chakong run scenarios/baseline.toml
  chakong run scenarios/baseline.toml --replications 20 --seed 7 --workers 2
  chakong run scenarios/baseline.toml --set regions.hunan.officers=20 --out results/hunan20
  chakong run scenarios/baseline.toml --json > summary.json
  chakong run scenarios/baseline.toml --precision 0.02 --max-replications 60
  chakong run scenarios/baseline.toml --dask tcp://10.0.0.5:8786

The results folder (default results/<scenario>/<UTC time>/) holds summary.json,
manifest.json, replications.csv, cases.csv, events.csv, backlog.csv, PNG plots and
report.html (a self-contained HTML report; --no-report skips it).
"""

VERIFY_EPILOG = """\
examples:
  chakong verify scenarios/validation/mmc.toml
  chakong verify scenarios/validation/mmc.toml --set regions.court.officers=8
  chakong verify scenarios/validation/jackson.toml --replications 30

The scenario's header names the fields carrying the closed-form parameters, e.g.
  # erlang-c: lambda=PATH servers=PATH service_mean_days=PATH metric=officer_wait_days_mean
Exit 0 when the closed form lies inside the 95% interval, 1 when it does not.
"""


CALIBRATE_EPILOG = """\
examples:
  chakong calibrate --check scenarios/national-2023.toml
  chakong calibrate --check scenarios/national-2023.toml --scale 1 --replications 3
  chakong calibrate scenarios/national-2023.toml --json

Volume targets (cases a year) are scaled by the share of the volume kept with --scale.
"""


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="scenario file (TOML)")
    p.add_argument(
        "--replications",
        type=positive_int,
        metavar="N",
        help="replications (default: the scenario's [run] replications)",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        metavar="S",
        help="seed (default: the scenario's [run] seed)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        metavar="W",
        help="parallel processes (default: all cores); results do not depend on it",
    )
    p.add_argument(
        "--scale",
        type=fraction,
        metavar="F",
        help="run this fraction of the volume, resources scaled alike "
        "(default: the scenario's [run] scale, usually 1)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "run",
        parents=[scen],
        help="run a scenario: replications, 95%% intervals, results folder",
        description="Run replications of a scenario and report every headline metric as a "
        "mean with a 95%% t-interval.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(p)
    p.add_argument("--out", type=Path, metavar="DIR", help="results folder (must be new)")
    p.add_argument(
        "--no-records",
        action="store_true",
        help="do not write cases.csv and events.csv (streaming statistics only)",
    )
    study_commands.add_study_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "verify",
        parents=[scen],
        help="check a validation scenario against its closed form (Erlang C, Jackson)",
        description="Run a validation scenario and compare the metric its header names with "
        "the queueing-theory closed form.",
        epilog=VERIFY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "calibrate",
        parents=[scen],
        help="check a scenario against its published targets ([[calibration]])",
        description="Run a scenario and compare each [[calibration]] target (a published "
        "figure) with the simulated mean and its 95%% interval.",
        epilog=CALIBRATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(p)
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser(
        "bench",
        help="benchmark: cases per second against a textbook SimPy M/M/c, memory growth",
        description="Run the baseline scenario (one replication, streaming statistics) and a "
        "textbook SimPy M/M/c model in the same process; print cases_per_second, "
        "textbook_customers_per_second and their ratio, and peak memory at 1x and 4x the "
        "simulated time.",
        epilog="examples:\n  chakong bench\n  chakong bench --json --repeat 5\n"
        "  chakong bench --national              # one full-scale national year: slow\n"
        "  chakong bench --national --scale 0.1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--scenario",
        type=Path,
        default=None,
        metavar="FILE",
        help="scenario to time (default: scenarios/baseline.toml)",
    )
    p.add_argument(
        "--repeat",
        type=positive_int,
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
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        metavar="F",
        help="with --national: the fraction of the volume (default 1, the whole country)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_bench)

    study_commands.register(sub, scen)

    from sim.cli import demand as demand_command

    demand_command.register(sub, scen)


def _resolve(args: argparse.Namespace):
    from sim.engine.runner import default_workers
    from sim.scenario import load_scenario

    loaded = load_scenario(args.file, args.overrides)
    run = loaded.scenario.run
    scale = args.scale if args.scale is not None else run.scale
    if scale != 1:
        loaded = loaded.scaled(scale)
    replications = args.replications or run.replications
    if getattr(args, "precision", None) is not None and args.replications is None:
        replications = study_commands.INITIAL_REPLICATIONS  # the algorithm's start
    if replications < 2:
        raise UserError("--replications: at least 2 are needed for a confidence interval")
    seed = run.seed if args.seed is None else args.seed
    workers = args.workers or default_workers()
    return loaded, replications, seed, workers


def cmd_run(args: argparse.Namespace) -> int:
    from sim.study.run import execute, format_table

    loaded, replications, seed, workers = _resolve(args)
    rule = study_commands.precision_rule(args, replications)
    with study_commands.executor_for(args, workers) as executor:
        outcome = execute(
            loaded,
            replications=replications,
            seed=seed,
            workers=workers,
            out=args.out,
            keep_records=not args.no_records,
            show_progress=not args.no_progress,
            precision=rule,
            executor=executor,
            report=not args.no_report,
        )
    if args.json:
        print(json.dumps(outcome.to_json(), ensure_ascii=False))
    else:
        print(format_table(outcome))
    print(f"results: {outcome.out_dir}", file=sys.stderr)
    if not args.no_report:
        print(f"report: {outcome.out_dir / 'report.html'}", file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from sim.study.theory import read_check
    from sim.study.verify import verify

    loaded, replications, seed, workers = _resolve(args)
    check = read_check(loaded.path)
    if check is None:
        raise UserError(
            f"{args.file}: no '# erlang-c:' or '# jackson:' header line; see chakong verify --help"
        )
    result = verify(loaded, check, replications, seed, workers, not args.no_progress)
    print(json.dumps(result, ensure_ascii=False) if args.json else _verify_text(result))
    return 0 if result["inside_ci95"] else 1


def _verify_text(r: dict[str, Any]) -> str:
    lo, hi = r["ci95"]
    return "\n".join(
        [
            f"{r['scenario']}: {r['check']} check of {r['metric']} "
            f"({r['replications']} replications, seed {r['seed']})",
            f"  parameters:   {r['parameters']}",
            f"  closed form:  {r['expected']:.6g}",
            f"  simulated:    {r['mean']:.6g}  95% interval [{lo:.6g}, {hi:.6g}]",
            f"  error:        {100 * r['relative_error']:+.2f}%",
            f"  result:       {'PASS' if r['inside_ci95'] else 'FAIL'}: closed form "
            f"{'inside' if r['inside_ci95'] else 'outside'} the interval",
        ]
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.study.calibrate import calibrate, format_calibration

    loaded, replications, seed, workers = _resolve(args)
    result = calibrate(loaded, replications, seed, workers, not args.no_progress)
    print(json.dumps(result, ensure_ascii=False) if args.json else format_calibration(result))
    return 1 if args.check and not result["passed"] else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from sim.engine import bench

    if args.national:
        result = bench.run_national_bench(args.scenario, args.scale)
        print(json.dumps(result) if args.json else bench.format_national_bench(result))
        return 0
    result = bench.run_bench(args.scenario, args.repeat)
    print(json.dumps(result) if args.json else bench.format_bench(result))
    return 0
