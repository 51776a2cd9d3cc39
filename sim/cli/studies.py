"""``chakong compare``, ``sweep`` and ``report``: studies of several scenarios or points,
and the HTML report of any results folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.cli import options
from sim.cli.options import PRECISION_HELP
from sim.errors import UserError

COMPARE_EPILOG = f"""\
examples:
  chakong compare scenarios/baseline.toml scenarios/whatif/baseline-more-officers.toml
  chakong compare scenarios/baseline.toml scenarios/whatif/*.toml --replications 20 --json
  chakong compare scenarios/baseline.toml scenarios/whatif/baseline-more-officers.toml \\
      --set horizon_days=200 --set warmup_days=20 --precision 0.05

Every scenario runs replications 0..N-1 with the same seed (common random numbers), so the
difference of each metric against the base is paired replication by replication; a
difference is significant (*) when its 95% interval excludes 0. --set applies to every
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
and 95% intervals per point), sensitivity.csv, sweep.json and report.html.

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


# ---------------------------------------------------------------- compare


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario
    from sim.study.compare import check_names, compare, format_comparison

    base = options.loaded_scenario(args, args.base)
    # every scenario at the base's scale: pairs stay paired
    others = [load_scenario(f, args.overrides).scaled(base.scale) for f in args.others]
    loadeds = [base, *others]
    check_names(loadeds)
    return options.study(
        args,
        options.settings(args, base.scenario.run),
        lambda settings, executor, folder: compare(loadeds, settings, executor, folder),
        format_comparison,
    )


# ---------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario
    from sim.study.design import make_design, resolve_varies
    from sim.study.sweep import DEFAULT_TARGETS, check_targets, format_sweep, sweep

    targets = args.metric or list(DEFAULT_TARGETS)
    check_targets(targets)
    file = Path(args.file)
    base = load_scenario(file, args.overrides)
    varies = resolve_varies(file, args.overrides, args.vary)
    settings = options.settings(args, base.scenario.run)
    design = make_design(args.design, varies, args.samples, settings.seed)
    return options.study(
        args,
        settings,
        lambda settings, executor, folder: sweep(
            file,
            args.overrides,
            varies,
            design,
            settings,
            executor,
            folder,
            targets=targets,
            scale=args.scale,
        ),
        format_sweep,
    )


# ---------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    from sim.reporting.build import build_report, check_results_dir

    if args.out is not None and len(args.dirs) > 1:
        raise UserError("--out: only with one RESULTS_DIR (each folder gets its report.html)")
    for d in args.dirs:  # every folder is checked before anything is written
        check_results_dir(d)
    for d in args.dirs:
        print(build_report(d, args.out))
    return 0


# ---------------------------------------------------------------- registration


COMPARE_HELP = "what-if: run scenarios under common random numbers, paired differences"

COMPARE_ABOUT = (
    "Run a base scenario and others with the same seeds (common random "
    "numbers) and report, for every headline metric, each mean and the paired "
    "difference against the base with its 95% interval."
)

SWEEP_HELP = "vary scenario fields over a design; which inputs drive the metrics"

SWEEP_ABOUT = (
    "Run a designed sweep over scenario fields and report every point's "
    "metrics with 95% intervals and which inputs drive them."
)

REPORT_HELP = "build the self-contained HTML report of results folders"

REPORT_ABOUT = "Build report.html for each results folder of chakong run, compare, sweep or demand."


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = options.command(
        sub, "compare", [scen], cmd_compare, COMPARE_HELP, COMPARE_ABOUT, COMPARE_EPILOG
    )
    p.add_argument("base", metavar="BASE", help="the base scenario file (TOML)")
    p.add_argument("others", nargs="+", metavar="OTHER", help="scenario files to compare")
    options.add(p, *options.STUDY, *options.PRECISION)

    p = options.command(sub, "sweep", [scen], cmd_sweep, SWEEP_HELP, SWEEP_ABOUT, SWEEP_EPILOG)
    options.add(p, "file")
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=LOW:HIGH",
        help="a numeric field and its range (repeatable)",
    )
    p.add_argument("--design", choices=["lhs", "sobol", "grid"], default="lhs", help="default: lhs")
    p.add_argument(
        "--samples", type=options.positive_int, metavar="N", help="design size (see below)"
    )
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help="metrics whose drivers to print (repeatable; default: "
        "time_to_recovery_days_mean, throughput_cases_per_year)",
    )
    options.add(p, *options.STUDY, *options.PRECISION)

    p = options.command(sub, "report", [], cmd_report, REPORT_HELP, REPORT_ABOUT, REPORT_EPILOG)
    p.add_argument("dirs", nargs="+", type=Path, metavar="RESULTS_DIR")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here instead")
