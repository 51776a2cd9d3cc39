"""``chakong run``, ``verify`` and ``calibrate``: replications of one scenario."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sim.cli import options
from sim.errors import UserError

RUN_EPILOG = """\
examples:
  chakong run scenarios/baseline.toml
  chakong run scenarios/baseline.toml --replications 20 --seed 7 --workers 2
  chakong run scenarios/baseline.toml --set regions.hunan.officers=20 --out results/hunan20
  chakong run scenarios/baseline.toml --json > summary.json
  chakong run scenarios/baseline.toml --precision 0.02 --max-replications 60
  chakong run scenarios/baseline.toml --dask tcp://10.0.0.5:8786
  chakong run scenarios/national-2023.toml --scale 1 --split 2 --no-records

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
  chakong calibrate --fit scenarios/national-2023.toml --scale 0.005 --replications 2

Every [[calibration]] figure is a target (fitted, and judged by --check) or, with
role = "check", a published figure only shown beside the model. Volume targets (cases a
year) are scaled by the share of the volume kept with --scale.

--fit fits the parameters of the file's [fit] table (PATH = [low, high]) to its targets:
a Latin hypercube of --samples points over the bounds (scipy.stats.qmc), then
scipy.optimize.least_squares from the best of them, every point over the same replications
with the same seed (common random numbers), until every target is within a quarter of its
tolerance, the search converges or --max-evaluations are spent. It prints the fitted values
(also as --set lines) and each figure simulated beside published, and writes a results
folder (default results/calibrate-<scenario>/<UTC time>/): fit.json, evaluations.csv,
fitted.set, fitted.toml (the scenario with the fitted values) and manifest.json.
"""


RUN_HELP = "run a scenario: replications, 95%% intervals, results folder"

RUN_ABOUT = (
    "Run replications of a scenario and report every headline metric as a "
    "mean with a 95% t-interval."
)

VERIFY_HELP = "check a validation scenario against its closed form (Erlang C, Jackson)"

VERIFY_ABOUT = (
    "Run a validation scenario and compare the metric its header names with "
    "the queueing-theory closed form."
)

CALIBRATE_HELP = "check a scenario against its published figures, or fit it to them"

CALIBRATE_ABOUT = (
    "Run a scenario and compare each [[calibration]] figure (a published "
    "target or check) with the simulated mean and its 95% interval; or, with --fit, fit "
    "the parameters of its [fit] table to its targets."
)


def register(sub: Any, scen: argparse.ArgumentParser) -> None:
    p = options.command(sub, "run", [scen], cmd_run, RUN_HELP, RUN_ABOUT, RUN_EPILOG)
    options.add(p, *options.RUN, "out", "no_records", *options.PRECISION, "split")

    p = options.command(sub, "verify", [scen], cmd_verify, VERIFY_HELP, VERIFY_ABOUT, VERIFY_EPILOG)
    options.add(p, *options.RUN)

    p = options.command(
        sub, "calibrate", [scen], cmd_calibrate, CALIBRATE_HELP, CALIBRATE_ABOUT, CALIBRATE_EPILOG
    )
    options.add(p, *options.RUN, "out", "fit_samples", "max_evaluations")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    how.add_argument(
        "--fit", action="store_true", help="fit the [fit] parameters to the targets (see below)"
    )


def cmd_run(args: argparse.Namespace) -> int:
    from sim.study.run import format_table, run

    if (args.split or 1) > 1 and not args.no_records:
        raise UserError(
            f"--split {args.split}: a split replication keeps statistics only (each part "
            "would write records of its own); add --no-records"
        )
    loaded = options.loaded_scenario(args)
    return options.study(
        args,
        options.settings(args, loaded.scenario.run),
        lambda settings, executor, folder: run(
            loaded, settings, executor, folder, keep_records=not args.no_records
        ),
        format_table,
    )


def cmd_verify(args: argparse.Namespace) -> int:
    from sim.study.theory import read_check
    from sim.study.verify import verify

    loaded = options.loaded_scenario(args)
    settings = options.settings(args, loaded.scenario.run)
    check = read_check(loaded.path)
    if check is None:
        raise UserError(
            f"{args.file}: no '# erlang-c:' or '# jackson:' header line; see chakong verify --help"
        )
    result = verify(loaded, check, settings)
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

    loaded = options.loaded_scenario(args)
    if args.fit:
        return _fit(args, loaded)
    for flag, given in (
        ("--out", args.out),
        ("--samples", args.samples),
        ("--max-evaluations", args.max_evaluations),
    ):
        if given is not None:
            raise UserError(f"{flag}: only with --fit")
    result = calibrate(loaded, options.settings(args, loaded.scenario.run))
    print(json.dumps(result, ensure_ascii=False) if args.json else format_calibration(result))
    return 1 if args.check and not result["passed"] else 0


def _fit(args: argparse.Namespace, loaded: Any) -> int:
    from sim.results.folders import check_destination
    from sim.study.fit import fit, format_fit
    from sim.study.settings import fit_options
    from sim.study.skeleton import Folder

    how = fit_options(args.samples, args.max_evaluations)
    if args.out is not None:
        check_destination(args.out)
    settings = options.settings(args, loaded.scenario.run)
    with settings.executor() as executor:
        outcome = fit(loaded, settings, executor, Folder(args.out), how)
    print(json.dumps(outcome.to_json(), ensure_ascii=False) if args.json else format_fit(outcome))
    print(f"results: {outcome.out_dir}", file=sys.stderr)
    return 0
