"""What-if comparisons: scenarios run under common random numbers, paired differences.

Every scenario runs replications ``0 .. n-1`` with the same seed, so replication ``i`` of
each one draws the same arrivals, claims, debtors and agency delays wherever the scenarios
agree (the named streams of :mod:`sim.model.streams`). The difference of a metric between a
scenario and the base is then taken replication by replication, and its 95% t-interval is
the interval of those paired differences (:func:`paired_difference`): the noise the two
runs share cancels, so the interval is narrower than one from independent runs
(:func:`independent_difference`, Welch's interval, kept for that comparison). A difference
is *significant* when its interval excludes 0.

:func:`compare` runs the scenarios and writes the results folder::

    comparison.json   the --json object, with seed, replications (and precision)
    comparison.csv    one row per (scenario, metric): means, difference, interval
    manifest.json     every scenario's file, hash and resolved text; seed; executor
    scenarios/K-NAME/ a run folder per scenario (summary, replications, backlog, ...)
    report.html       the HTML report
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as st

from sim.engine.executors import Executor
from sim.errors import UserError
from sim.results.folders import csv_number, manifest, write_json
from sim.results.metrics import format_value, json_number
from sim.results.replication import ReplicationResult
from sim.results.statistics import Summary, summarize
from sim.results.tables import text_table
from sim.scenario.loader import LoadedScenario
from sim.study.precision import PrecisionOutcome
from sim.study.run import RunOutcome, write_run_folder
from sim.study.settings import Settings
from sim.study.skeleton import Folder, Stamp, conduct, replicate


@dataclass(frozen=True)
class Difference:
    """A metric under the base and under another scenario, and their difference."""

    base_mean: float
    mean: float
    diff_mean: float
    ci95: tuple[float, float]
    n: int  # replications (pairs) the difference is over

    @property
    def half_width(self) -> float:
        return (self.ci95[1] - self.ci95[0]) / 2

    @property
    def significant(self) -> bool:
        """The 95% interval excludes 0."""
        lo, hi = self.ci95
        return bool(math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "base_mean": json_number(self.base_mean),
            "mean": json_number(self.mean),
            "diff_mean": json_number(self.diff_mean),
            "diff_ci95": [json_number(self.ci95[0]), json_number(self.ci95[1])],
            "significant": self.significant,
        }


def _valid(values: Sequence[float]) -> list[float]:
    return [v for v in values if v is not None and not math.isnan(v)]


def paired_difference(base: Sequence[float], other: Sequence[float]) -> Difference:
    """The paired t-interval of ``other[i] - base[i]`` (common random numbers), over the
    replications where both scenarios observed the metric."""
    if len(base) != len(other):
        raise ValueError("paired values must come from the same replications")
    diffs = [o - b for b, o in zip(base, other, strict=True) if not (math.isnan(b + o))]
    d = summarize(diffs)
    return Difference(summarize(base).mean, summarize(other).mean, d.mean, d.ci95, d.n)


def independent_difference(base: Sequence[float], other: Sequence[float]) -> Difference:
    """Welch's t-interval of ``mean(other) - mean(base)`` for independent runs."""
    b, o = np.array(_valid(base)), np.array(_valid(other))
    mb = float(b.mean()) if len(b) else math.nan
    mo = float(o.mean()) if len(o) else math.nan
    diff = mo - mb
    n = min(len(b), len(o))
    if n < 2:
        return Difference(mb, mo, diff, (math.nan, math.nan), n)
    if b.var() == 0 and o.var() == 0:
        return Difference(mb, mo, diff, (diff, diff), n)
    ci = st.ttest_ind(o, b, equal_var=False).confidence_interval(0.95)
    return Difference(mb, mo, diff, (float(ci.low), float(ci.high)), n)


@dataclass
class Comparison:
    """Scenarios run together under common random numbers; the first is the base."""

    names: list[str]
    seed: int
    results: list[list[ReplicationResult]]
    summaries: list[dict[str, Summary]]
    differences: list[dict[str, Difference]]  # one per scenario after the base
    precision: PrecisionOutcome | None = None
    out_dir: Path | None = None

    @property
    def base(self) -> str:
        return self.names[0]

    @property
    def replications(self) -> int:
        return len(self.results[0])

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        obj: dict[str, Any] = {
            "base": self.base,
            "others": [
                {"scenario": name, "metrics": {m: d.to_json() for m, d in diffs.items()}}
                for name, diffs in zip(self.names[1:], self.differences, strict=True)
            ],
        }
        if self.precision is not None:
            obj["precision"] = self.precision.to_json()
        return obj

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per (scenario, metric): means, difference, interval."""
        return [
            {
                "scenario": name,
                "metric": metric,
                "base_mean": d.base_mean,
                "mean": d.mean,
                "diff_mean": d.diff_mean,
                "diff_ci95_low": d.ci95[0],
                "diff_ci95_high": d.ci95[1],
                "significant": d.significant,
            }
            for name, diffs in zip(self.names[1:], self.differences, strict=True)
            for metric, d in diffs.items()
        ]

    def frame(self) -> Any:
        """:meth:`rows` as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows())


def differences_of(results: list[list[ReplicationResult]]) -> list[dict[str, Difference]]:
    base = results[0]
    metrics = list(base[0].metrics) if base else []
    return [
        {
            m: paired_difference([r.metrics[m] for r in base], [r.metrics[m] for r in other])
            for m in metrics
        }
        for other in results[1:]
    ]


def check_names(loadeds: Sequence[LoadedScenario]) -> None:
    seen: dict[str, Path] = {}
    for ld in loadeds:
        name = ld.scenario.name
        if name in seen:
            raise UserError(
                f"{ld.path}: scenario name '{name}' is also the name of {seen[name]}; give "
                'each compared scenario its own name (name = "..." in the file, or '
                'sim.override(..., name="...") in Python)'
            )
        seen[name] = ld.path


def compare(
    loadeds: Sequence[LoadedScenario],
    settings: Settings,
    executor: Executor,
    folder: Folder,
) -> Comparison:
    """Run the base (first) and the other scenarios with the same seed and replication
    indices, and difference every metric against the base, pair by pair; the results
    folder (``folder``: default ``results/compare-<base>/<UTC time>/``) is finished by the
    caller's hook (the report)."""
    if len(loadeds) < 2:
        raise UserError("compare: give a base scenario and at least one other")
    check_names(loadeds)
    scenarios = [ld.scenario for ld in loadeds]
    names = [s.name for s in scenarios]

    def go(parts: Path | None) -> Comparison:
        done = replicate(executor, scenarios, settings)
        return Comparison(
            names,
            settings.seed,
            done.results,
            done.summaries,
            differences_of(done.results),
            done.precision,
        )

    def write_folder(tmp: Path, comparison: Comparison, stamp: Stamp) -> None:
        folders = _write_scenarios(tmp, loadeds, comparison, executor, stamp)
        write_json(tmp / "comparison.json", _folder_object(comparison, folders))
        _write_csv(tmp / "comparison.csv", comparison)
        write_json(
            tmp / "manifest.json",
            study_manifest(
                "compare",
                loadeds,
                comparison.seed,
                comparison.replications,
                executor,
                comparison.precision,
                stamp,
            ),
        )

    return conduct(go, write_folder, folder, f"compare-{names[0]}")


def study_manifest(
    kind: str,
    loadeds: Sequence[LoadedScenario],
    seed: int,
    replications: int,
    executor: Executor,
    precision: PrecisionOutcome | None,
    stamp: Stamp,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a study over several scenarios (the first is ``scenario``)."""
    common: dict[str, Any] = {
        "seed": seed,
        "replications": replications,
        "workers": executor.parallelism,
        "started": stamp.started,
        "wall_seconds": stamp.wall_seconds,
    }
    obj = manifest(loadeds[0], **common, extra={"kind": kind, "executor": executor.describe()})
    obj["scenarios"] = [manifest(ld, **common)["scenario"] for ld in loadeds]
    if precision is not None:
        obj["precision"] = precision.to_json()
    obj.update(extra or {})
    return obj


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def scenario_folder_name(k: int, name: str) -> str:
    return f"{k}-{_UNSAFE.sub('-', name).strip('-.') or 'scenario'}"


def _write_scenarios(
    folder: Path,
    loadeds: Sequence[LoadedScenario],
    comparison: Comparison,
    executor: Executor,
    stamp: Stamp,
) -> list[str]:
    """A run folder per scenario under ``scenarios/`` (no per-case records)."""
    names = []
    for k, (ld, reps, summary) in enumerate(
        zip(loadeds, comparison.results, comparison.summaries, strict=True)
    ):
        name = scenario_folder_name(k, ld.scenario.name)
        sub = folder / "scenarios" / name
        sub.mkdir(parents=True)
        outcome = RunOutcome(ld.scenario.name, comparison.seed, reps, summary, None)
        write_run_folder(
            sub,
            ld,
            outcome,
            keep_records=False,
            manifest_extra={"executor": executor.describe(), "part_of": "compare"},
            stamp=stamp,
            workers=executor.parallelism,
        )
        names.append(f"scenarios/{name}")
    return names


def _folder_object(comparison: Comparison, folders: list[str]) -> dict[str, Any]:
    obj = comparison.to_json()
    obj["seed"] = comparison.seed
    obj["replications"] = comparison.replications
    obj["scenarios"] = [
        {"name": n, "folder": f} for n, f in zip(comparison.names, folders, strict=True)
    ]
    return obj


def _write_csv(path: Path, comparison: Comparison) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "scenario",
                "metric",
                "base_mean",
                "mean",
                "diff_mean",
                "diff_ci95_low",
                "diff_ci95_high",
                "significant",
            ]
        )
        for name, diffs in zip(comparison.names[1:], comparison.differences, strict=True):
            for metric, d in diffs.items():
                w.writerow(
                    [
                        name,
                        metric,
                        csv_number(d.base_mean),
                        csv_number(d.mean),
                        csv_number(d.diff_mean),
                        csv_number(d.ci95[0]),
                        csv_number(d.ci95[1]),
                        str(d.significant).lower(),
                    ]
                )


# ---------------------------------------------------------------- the table


def format_comparison(c: Comparison) -> str:
    lines = [
        f"compare: {len(c.names)} scenarios, {c.replications} replications each, seed {c.seed}",
        "replication i of every scenario uses the same random streams (common random numbers);",
        "differences are paired, replication by replication, with 95% t-intervals.",
    ]
    for name, diffs in zip(c.names[1:], c.differences, strict=True):
        rows = [("metric", c.base, name, "difference", "95% interval", "change", "")]
        for metric, d in diffs.items():
            lo, hi = d.ci95
            interval = (
                f"[{format_value(lo, metric, True)}, {format_value(hi, metric, True)}]"
                if math.isfinite(lo) and math.isfinite(hi)
                else "-"
            )
            change = (
                f"{100 * d.diff_mean / d.base_mean:+.1f}%"
                if d.base_mean and math.isfinite(d.base_mean) and math.isfinite(d.diff_mean)
                else "-"
            )
            rows.append(
                (
                    metric,
                    format_value(d.base_mean, metric),
                    format_value(d.mean, metric),
                    format_value(d.diff_mean, metric, True),
                    interval,
                    change,
                    "*" if d.significant else "",
                )
            )
        lines += ["", f"{name} against {c.base}:", "", *text_table(rows, "<>>>^>.")]
    lines += [
        "",
        "* significant: the 95% interval of the paired difference excludes 0. "
        "Rates are in percentage points.",
    ]
    if c.precision is not None:
        lines += ["", c.precision.describe()]
    return "\n".join(lines)
