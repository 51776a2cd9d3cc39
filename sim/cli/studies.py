"""The study subcommands of ``chakong``: compare, sweep and report, and the options they
share with ``run``: ``--precision``, ``--max-replications``, ``--precision-metric``,
``--dask`` and ``--no-report``."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sim.cli import non_negative_int, positive_int
from sim.errors import UserError

INITIAL_REPLICATIONS = 3  # Hoad, Robinson and Davies start from 3 replications
DEFAULT_CAP = 100

PRECISION_HELP = """\
--precision P adds replications until every headline metric's 95%% interval has a
half-width under P times its mean (P=0.02: 2%%), or --max-replications is reached, with the
replication algorithm of Hoad, Robinson and Davies (2010): start from --replications
(default 3), and accept once the target has held for 5 more replications. Rates under 1%%
are judged against 1 percentage point; metrics that never vary meet any target; metrics
never observed are not judged. The output says which happened."""

COMPARE_EPILOG = f"""\
examples:
  chakong compare scenarios/baseline.toml scenarios/whatif/baseline-more-officers.toml
  chakong compare scenarios/baseline.toml scenarios/whatif/*.toml --replications 20 --json
  chakong compare scenarios/baseline.toml scenarios/whatif/baseline-more-officers.toml \\
      --set horizon_days=200 --set warmup_days=20 --precision 0.05

Every scenario runs replications 0..N-1 with the same seed (common random numbers), so the
difference of each metric against the base is paired replication by replication; a
difference is significant (*) when its 95%% interval excludes 0. --set applies to every
scenario. The results folder (default results/compare-<base>/<UTC time>/) holds
comparison.json, comparison.csv, manifest.json, a run folder per scenario under
scenarios/, and report.html.

{PRECISION_HELP}
"""

SWEEP_EPILOG = f"""\
examples:
  chakong sweep scenarios/baseline.toml --vary regions.hunan.officers=10:18 \\
      --vary sale.real_estate.preparation_days.mean=20:80
  chakong sweep scenarios/baseline.toml --vary regions.hunan.arrival_rate_per_day=8:16 \\
      --vary regions.hunan.officers=10:20 --design sobol --samples 16 --replications 5
  chakong sweep scenarios/baseline.toml --vary sale.real_estate.preparation_days.mean=20:80 \\
      --design grid --samples 5 --metric time_to_recovery_days_mean --json

--vary PATH=LOW:HIGH (repeatable) varies a numeric scenario field (a --set path) over a
range; a whole-number field takes whole values. Designs (scipy.stats.qmc): lhs, a Latin
hypercube of --samples points (default 8); sobol, Saltelli's matrices from a Sobol'
sequence with --samples base points (a power of 2, default 8) for Sobol' indices; grid,
k levels per input (--samples = k^inputs, default 3 levels). Every point runs the same
replications with the same seed. Prints which inputs drive each --metric (default
time_to_recovery_days_mean and throughput_cases_per_year); writes sweep.csv (inputs, means
and 95%% intervals per point), sensitivity.csv, sweep.json and report.html.

{PRECISION_HELP}
"""

REPORT_EPILOG = """\
examples:
  chakong report results/baseline/20240101T000000Z
  chakong report results/compare-baseline/*/ results/sweep-baseline/*/
  chakong report results/baseline/20240101T000000Z --out baseline.html

Builds report.html in each results folder (of a run, a comparison or a sweep): tables with
95% intervals, the scenario text, the manifest, and plots (time to close and time to
recovery, backlog and the terminated-for-now pool over time, queries by channel and agency
by hour of day; a forest plot of differences for a comparison; the sensitivity chart for a
sweep). The file is self-contained: it opens without a network.
"""


# ---------------------------------------------------------------- shared options


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.02, got '{text}'") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (0.02 is 2%), got {text}")
    return value


def add_study_options(p: argparse.ArgumentParser) -> None:
    """--precision, --max-replications, --precision-metric, --dask, --no-report."""
    p.add_argument(
        "--precision",
        type=fraction,
        metavar="P",
        help="add replications until every 95%% half-width is under P x mean (e.g. 0.02)",
    )
    p.add_argument(
        "--max-replications",
        type=positive_int,
        metavar="N",
        help=f"with --precision: the cap on replications (default {DEFAULT_CAP})",
    )
    p.add_argument(
        "--precision-metric",
        action="append",
        default=[],
        metavar="NAME",
        help="with --precision: judge only these metrics (repeatable; default: every one)",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on a Dask cluster (scheduler address, e.g. tcp://10.0.0.5:8786) instead "
        "of local processes; results are identical",
    )
    p.add_argument("--no-report", action="store_true", help="do not write report.html")


def precision_rule(args: argparse.Namespace, initial: int) -> Any:
    from sim.study.precision import PrecisionRule

    if args.precision is None:
        if args.max_replications is not None:
            raise UserError("--max-replications: only with --precision")
        if args.precision_metric:
            raise UserError("--precision-metric: only with --precision")
        return None
    return PrecisionRule(
        target=args.precision,
        max_replications=args.max_replications or max(DEFAULT_CAP, initial),
        initial=initial,
        metrics=tuple(args.precision_metric),
    )


@contextmanager
def executor_for(args: argparse.Namespace, workers: int):
    from sim.engine.executors import make_executor

    with make_executor(workers, args.dask, not args.no_progress) as executor:
        yield executor


def _add_common(p: argparse.ArgumentParser) -> None:
    from sim.cli.run import fraction

    p.add_argument(
        "--scale",
        type=fraction,
        metavar="F",
        help="run every scenario at this fraction of its volume, resources scaled alike "
        "(default: the base scenario's [run] scale, usually 1)",
    )
    p.add_argument(
        "--replications",
        type=positive_int,
        metavar="N",
        help="replications of every scenario or point (default: the base scenario's [run] "
        "replications; with --precision, where the algorithm starts: 3)",
    )
    p.add_argument(
        "--seed", type=non_negative_int, metavar="S", help="seed (default: the scenario's)"
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        metavar="W",
        help="parallel processes (default: all cores); results do not depend on it",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="results folder (must be new)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_study_options(p)


def _counts(args: argparse.Namespace, run: Any) -> tuple[int, int, int]:
    from sim.engine.runner import default_workers

    if args.replications is not None:
        replications = args.replications
    elif args.precision is not None:
        replications = INITIAL_REPLICATIONS
    else:
        replications = run.replications
    if replications < 2:
        raise UserError("--replications: at least 2 are needed for a confidence interval")
    seed = run.seed if args.seed is None else args.seed
    return replications, seed, args.workers or default_workers()


def _done(out_dir: Path | None, report: bool) -> None:
    print(f"results: {out_dir}", file=sys.stderr)
    if report and out_dir is not None:
        print(f"report: {out_dir / 'report.html'}", file=sys.stderr)


# ---------------------------------------------------------------- compare


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario
    from sim.study.compare import check_names, compare, format_comparison

    loadeds = [load_scenario(f, args.overrides) for f in [args.base, *args.others]]
    scale = args.scale if args.scale is not None else loadeds[0].scenario.run.scale
    loadeds = [ld.scaled(scale) for ld in loadeds]  # every scenario alike: pairs stay paired
    check_names(loadeds)
    replications, seed, workers = _counts(args, loadeds[0].scenario.run)
    rule = precision_rule(args, replications)
    if args.out is not None:
        from sim.results.folders import check_destination

        check_destination(args.out)
    with executor_for(args, workers) as executor:
        result = compare(
            loadeds,
            seed=seed,
            replications=replications,
            executor=executor,
            precision=rule,
            out=args.out,
            report=not args.no_report,
            show_progress=not args.no_progress,
        )
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(format_comparison(result))
    _done(result.out_dir, not args.no_report)
    return 0


# ---------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.results.statistics import HEADLINE_METRICS
    from sim.scenario import load_scenario
    from sim.study.sweep import DEFAULT_TARGETS, format_sweep, make_design, resolve_varies, sweep

    targets = args.metric or list(DEFAULT_TARGETS)
    for m in targets:
        if m not in HEADLINE_METRICS:
            raise UserError(
                f"--metric {m}: unknown metric; choose from {', '.join(HEADLINE_METRICS)}"
            )
    file = Path(args.file)
    base = load_scenario(file, args.overrides)
    varies = resolve_varies(file, args.overrides, args.vary)
    replications, seed, workers = _counts(args, base.scenario.run)
    rule = precision_rule(args, replications)
    design = make_design(args.design, varies, args.samples, seed)
    if args.out is not None:
        from sim.results.folders import check_destination

        check_destination(args.out)
    with executor_for(args, workers) as executor:
        result = sweep(
            file,
            args.overrides,
            varies,
            design,
            seed=seed,
            replications=replications,
            executor=executor,
            targets=targets,
            precision=rule,
            scale=args.scale,
            out=args.out,
            report=not args.no_report,
            show_progress=not args.no_progress,
        )
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(format_sweep(result))
    _done(result.out_dir, not args.no_report)
    return 0


# ---------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    from sim.report.build import build_report, check_results_dir

    if args.out is not None and len(args.dirs) > 1:
        raise UserError("--out: only with one RESULTS_DIR (each folder gets its report.html)")
    for d in args.dirs:  # every folder is checked before anything is written
        check_results_dir(d)
    for d in args.dirs:
        print(build_report(d, args.out))
    return 0


# ---------------------------------------------------------------- registration


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "compare",
        parents=[scen],
        help="what-if: run scenarios under common random numbers, paired differences",
        description="Run a base scenario and others with the same seeds (common random "
        "numbers) and report, for every headline metric, each mean and the paired "
        "difference against the base with its 95%% interval.",
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("base", metavar="BASE", help="the base scenario file (TOML)")
    p.add_argument("others", nargs="+", metavar="OTHER", help="scenario files to compare")
    _add_common(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "sweep",
        parents=[scen],
        help="vary scenario fields over a design; which inputs drive the metrics",
        description="Run a designed sweep over scenario fields and report every point's "
        "metrics with 95%% intervals and which inputs drive them.",
        epilog=SWEEP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="scenario file (TOML)")
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=LOW:HIGH",
        help="a numeric field and its range (repeatable)",
    )
    p.add_argument("--design", choices=["lhs", "sobol", "grid"], default="lhs", help="default: lhs")
    p.add_argument("--samples", type=positive_int, metavar="N", help="design size (see below)")
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help="metrics whose drivers to print (repeatable; default: "
        "time_to_recovery_days_mean, throughput_cases_per_year)",
    )
    _add_common(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "report",
        help="build the self-contained HTML report of results folders",
        description="Build report.html for each results folder of chakong run, compare or sweep.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dirs", nargs="+", type=Path, metavar="RESULTS_DIR")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here instead")
    p.set_defaults(func=cmd_report)
