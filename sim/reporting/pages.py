"""The report pages of a run, a comparison and a sweep, built from their results folders.

Everything comes from the folder's files (summary.json, comparison.json, sweep.json,
manifest.json, backlog.csv, distributions.csv, queries_by_hour.csv, the scenario files),
so a report can be rebuilt at any time, on any machine, from the folder alone.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.reporting import figures
from sim.reporting.data import RunData, load_run, load_scenario_only, read_json
from sim.reporting.html import details, esc, image, page, pre, table
from sim.results.metrics import format_value, from_json_number, is_rate, unit
from sim.study.limits import RATE_FLOOR

CRN_NOTE = (
    "Replication <i>i</i> of every scenario uses the same random streams (common random "
    "numbers): the same cases arrive with the same claims and assets wherever the scenarios "
    "agree, so each difference is taken replication by replication (paired) and its 95% "
    "t-interval is narrower than independent runs would give. A difference is significant "
    "when its interval excludes 0."
)


# ---------------------------------------------------------------- shared pieces


def _interval(m: dict[str, Any], name: str) -> str:
    lo, hi = m.get("ci95") or [None, None]
    if lo is None or hi is None:
        return "-"
    return f"[{format_value(lo, name)}, {format_value(hi, name)}]"


def _metrics_table(summary: dict[str, Any]) -> str:
    judged = {}
    if "precision" in summary:
        judged = {m["metric"]: m for m in summary["precision"]["metrics"]}
    headers = ["metric", "mean", "95% interval", "unit", "n"]
    if judged:
        headers.append("half-width / mean")
    rows, marks = [], {}
    for i, (name, m) in enumerate(summary["metrics"].items()):
        row = [
            name,
            format_value(from_json_number(m["mean"]), name),
            _interval(m, name),
            unit(name),
            m["n"],
        ]
        if judged:
            j = judged.get(name)
            if j is None:
                row.append("not judged")
            else:
                rel = j["relative_half_width"]
                width = "undefined" if rel is None else f"±{100 * rel:.2f}%"
                row.append(f"{width} {j['status']}" + (f" ({j['note']})" if j["note"] else ""))
                if j["status"] == "not met":
                    marks[(i, 5)] = "bad"
        rows.append(row)
    return table(headers, rows, numeric=(1, 2, 4), cell_classes=marks)


def _precision_note(p: dict[str, Any] | None) -> str:
    if not p:
        return ""
    target = f"{100 * p['target']:g}%"
    if p["stopped_by"] == "precision":
        text = (
            f"Precision {target} reached at {p['reached_at']} replications and held over "
            f"{p['replications'] - p['reached_at']} more ({p['replications']} run)."
        )
    else:
        text = (
            f"Precision {target} <b>not confirmed</b>: stopped at the cap of "
            f"{p['max_replications']} replications."
        )
        missed = [m for m in p["metrics"] if m["status"] == "not met"]
        if missed:
            text += " Not within the target: " + esc(
                ", ".join(
                    (f"{m['scenario']}/" if len({x["scenario"] for x in p["metrics"]}) > 1 else "")
                    + m["metric"]
                    for m in missed
                )
            )
    return (
        f'<p class="verdict">{text} Replication algorithm of Hoad, Robinson and Davies (2010): '
        f"the target must hold for {p['look_ahead']} more replications once met; rates under "
        f"{100 * p.get('rate_floor', 0.01):g}% are judged against 1 percentage point; metrics "
        "that never vary meet any target.</p>"
    )


def _scenario_section(runs: list[tuple[str, RunData]]) -> str:
    parts = []
    for label, run in runs:
        head = f"<h3>{esc(label)}</h3>" if len(runs) > 1 else ""
        files = "".join(
            details(f"{name} (as written)", pre(text), open_=(i == 0 and len(runs) == 1))
            for i, (name, text) in enumerate(run.files)
        )
        if not files:
            files = '<p class="note">The scenario files were not kept in this folder.</p>'
        resolved = (
            details(
                "the scenario that ran (extends, --set and defaults applied)", pre(run.resolved)
            )
            if run.resolved
            else ""
        )
        parts.append(head + files + resolved)
    return "".join(parts)


def manifest_section(manifest: dict[str, Any]) -> str:
    keys = ("command", "started_utc", "wall_seconds", "seed", "replications", "workers")
    rows = [(k, manifest[k]) for k in keys if k in manifest]
    ex = manifest.get("executor")
    if ex:
        rows.append(
            (
                "executor",
                ", ".join(f"{k}={v}" for k, v in ex.items() if k != "workers")
                + (f", workers={ex['workers']}" if "workers" in ex else ""),
            )
        )
    versions = manifest.get("versions", {})
    rows += [(f"version: {k}", v) for k, v in versions.items()]
    return table(["field", "value"], rows) + details(
        "manifest.json", pre(json.dumps(manifest, indent=2, ensure_ascii=False))
    )


def _means(runs: dict[str, RunData], what: str) -> dict[str, float]:
    """Each scenario's mean of ``what`` as its table shows it (mean over replications)."""
    out = {}
    for label, run in runs.items():
        m = run.summary.get("metrics", {}).get(f"{what}_days_mean")
        if m is not None:
            out[label] = from_json_number(m["mean"])
    return out


def _run_figures(runs: dict[str, RunData]) -> str:
    close = {k: r.distributions.get("time_to_close", []) for k, r in runs.items()}
    recovery = {k: r.distributions.get("time_to_recovery", []) for k, r in runs.items()}
    backlogs = {k: figures.Series.of(r.backlog) for k, r in runs.items() if r.backlog is not None}
    queries = {k: r.queries for k, r in runs.items() if r.queries}
    warmup = next(iter(runs.values())).warmup
    agency_note = (
        "Per agency when the run kept records (the event log); channel totals always."
        if len(runs) == 1
        else "Channel totals per scenario (line style: scenario)."
    )
    return "".join(
        [
            "<h3>Time to close</h3>",
            image(
                figures.distribution(close, "time to close", _means(runs, "time_to_close")),
                "time to close",
                "Filing to closing, over cases closed in the observation window.",
            ),
            "<h3>Time to recovery</h3>",
            image(
                figures.distribution(
                    recovery, "time to recovery", _means(runs, "time_to_recovery")
                ),
                "time to recovery",
                "Filing until the creditor received the last money, over closed cases "
                "that recovered anything.",
            ),
            "<h3>Backlog and the 终本 pool</h3>",
            image(
                figures.backlog(backlogs, warmup),
                "backlog over time",
                "Open cases (mean over replications, band: their range) and cases in the "
                "终本 (terminated for now) pool.",
            ),
            "<h3>Query volume by channel, agency and hour of day</h3>",
            image(
                figures.queries_by_hour(queries),
                "queries by hour of day",
                "Requests sent to agencies over the 总对总 (central) and 点对点 (local) "
                f"channels, per day, by the hour they were sent. {agency_note}",
            ),
        ]
    )


# ---------------------------------------------------------------- run


def run_page(folder: Path) -> str:
    run = load_run(folder)
    s, m = run.summary, run.manifest
    desc = m.get("scenario", {}).get("resolved", {}).get("description", "")
    subtitle = [
        esc(f"{s['replications']} replications, seed {s['seed']}" + (f" - {desc}" if desc else "")),
        esc(f"command: {m.get('command', '')}"),
        esc(f"started {m.get('started_utc', '?')} UTC, {m.get('wall_seconds', '?')} s"),
    ]
    return page(
        f"chakong run: {run.name}",
        subtitle,
        [
            (
                "metrics",
                "Headline metrics",
                _precision_note(s.get("precision"))
                + _metrics_table(s)
                + '<p class="note">Means over replications with 95% t-intervals; the window is '
                "[warmup_days, horizon_days). Rates in %.</p>",
            ),
            ("plots", "Plots", _run_figures({run.name: run})),
            ("scenario", "Scenario", _scenario_section([(run.name, run)])),
            ("manifest", "Manifest", manifest_section(m)),
        ],
    )


# ---------------------------------------------------------------- compare


def compare_page(folder: Path) -> str:
    c = read_json(folder / "comparison.json")
    m = read_json(folder / "manifest.json")
    runs = {s["name"]: load_run(folder / s["folder"]) for s in c["scenarios"]}
    base = c["base"]
    sections = []
    body = [f'<p class="note">{CRN_NOTE}</p>', _precision_note(c.get("precision"))]
    forest_rows = []
    for other in c["others"]:
        rows, classes = [], []
        for metric, d in other["metrics"].items():
            lo, hi = d["diff_ci95"]
            base_mean, diff = from_json_number(d["base_mean"]), from_json_number(d["diff_mean"])
            change = 100 * diff / base_mean if base_mean else math.nan
            interval = (
                f"[{format_value(lo, metric, True)}, {format_value(hi, metric, True)}]"
                if lo is not None and hi is not None
                else "-"
            )
            rows.append(
                [
                    metric,
                    format_value(base_mean, metric),
                    format_value(from_json_number(d["mean"]), metric),
                    format_value(diff, metric, True),
                    interval,
                    f"{change:+.1f}%" if math.isfinite(change) else "-",
                    "yes" if d["significant"] else "",
                ]
            )
            classes.append("significant" if d["significant"] else "")
            if _comparable(metric, base_mean) and lo is not None and hi is not None:
                forest_rows.append(
                    figures.ForestRow(  # % of the base's size: a negative base flips nothing
                        metric,
                        other["scenario"],
                        100 * diff / abs(base_mean),
                        100 * lo / abs(base_mean),
                        100 * hi / abs(base_mean),
                        d["significant"],
                    )
                )
        body.append(f"<h3>{esc(other['scenario'])} against {esc(base)}</h3>")
        body.append(
            table(
                [
                    "metric",
                    base,
                    other["scenario"],
                    "difference",
                    "95% interval",
                    "change",
                    "significant",
                ],
                rows,
                numeric=(1, 2, 3, 4, 5),
                row_classes=classes,
                cell_classes={(i, 6): "yes" for i, cls in enumerate(classes) if cls},
            )
        )
    body.append('<p class="note">Rates in %, their differences in percentage points.</p>')
    sections.append(("differences", "Paired differences", "".join(body)))
    sections.append(
        (
            "forest",
            "Forest plot",
            image(
                figures.forest(forest_rows, base),
                "forest plot of differences",
                "Each difference as a share of the base mean, with its 95% interval; "
                "filled markers are significant.",
            ),
        )
    )
    names = list(runs)
    metric_names = list(next(iter(runs.values())).summary["metrics"])
    rows = []
    for metric in metric_names:
        row = [metric]
        for n in names:
            mm = runs[n].summary["metrics"][metric]
            row.append(
                f"{format_value(from_json_number(mm['mean']), metric)} {_interval(mm, metric)}"
            )
        rows.append(row)
    sections.append(
        (
            "means",
            "Means under each scenario",
            table(["metric", *names], rows, numeric=tuple(range(1, len(names) + 1))),
        )
    )
    sections.append(("plots", "Plots", _run_figures(runs)))
    sections.append(("scenario", "Scenarios", _scenario_section(list(runs.items()))))
    sections.append(("manifest", "Manifest", manifest_section(m)))
    subtitle = [
        esc(
            f"{', '.join(names[1:])} against {base}: {c['replications']} replications each, "
            f"seed {c['seed']}, common random numbers"
        ),
        esc(f"command: {m.get('command', '')}"),
    ]
    return page(f"chakong compare: {base} and {len(names) - 1} what-if", subtitle, sections)


# ---------------------------------------------------------------- sweep


def sweep_page(folder: Path) -> str:
    sw = read_json(folder / "sweep.json")
    m = read_json(folder / "manifest.json")
    inputs = [v["path"] for v in sw["inputs"]]
    method = "sobol" if sw["design"] == "sobol" else "src"
    body = [_precision_note(sw.get("precision"))]
    bars = []
    for metric in sw["targets"]:
        s = sw["sensitivity"][metric][method]
        body.append(f'<p class="verdict"><b>{esc(metric)}</b>: {esc(_verdict(s))}</p>')
        for e in s["effects"]:
            if e["value"] is None:
                continue
            lo, hi = e["ci95"]
            bars.append(
                figures.Bar(
                    metric,
                    e["input"],
                    e["value"],
                    from_json_number(lo),
                    from_json_number(hi),
                    from_json_number(e["first_order"]),
                )
            )
    what = (
        "Sobol' first- and total-order indices (scipy.stats.sobol_indices); the dotted "
        "line marks 0.05, the driver threshold"
        if method == "sobol"
        else "Standardised regression coefficients of the point means with 95% intervals: "
        "the change in the metric, in standard deviations, for one standard deviation "
        "of the input"
    )
    body.append(image(figures.sensitivity(bars, method), "sensitivity chart", what + "."))
    all_rows = []
    for metric, by in sw["sensitivity"].items():
        for meth, s in by.items():
            for e in s["effects"]:
                lo, hi = e["ci95"]
                all_rows.append(
                    [
                        metric,
                        meth,
                        e["input"],
                        _fmt(e["value"]),
                        f"[{_fmt(lo)}, {_fmt(hi)}]" if lo is not None else "-",
                        _fmt(e["first_order"]),
                        "yes" if e["driver"] else "",
                        _fmt(s["r2"]),
                    ]
                )
    body.append(
        details(
            "every metric's sensitivity",
            table(
                [
                    "metric",
                    "method",
                    "input",
                    "SRC / total index",
                    "95% interval",
                    "first order",
                    "driver",
                    "R²",
                ],
                all_rows,
                numeric=(3, 4, 5, 7),
            ),
        )
    )
    points = sw["design_points"]
    x = {p: [pt["inputs"][p] for pt in points] for p in inputs}
    y = {}
    for metric in sw["targets"]:
        ms = [pt["metrics"][metric] for pt in points]
        y[metric] = (
            [from_json_number(v["mean"]) for v in ms],
            [from_json_number(v["ci95"][0]) for v in ms],
            [from_json_number(v["ci95"][1]) for v in ms],
        )
    scatter = image(
        figures.sweep_scatter(inputs, sw["targets"], x, y), "point means against inputs"
    )
    rows = []
    for pt in points:
        row = [pt["point"], pt["block"], *(_fmt(pt["inputs"][p]) for p in inputs)]
        for metric in sw["targets"]:
            mm = pt["metrics"][metric]
            row.append(
                f"{format_value(from_json_number(mm['mean']), metric)} {_interval(mm, metric)}"
            )
        rows.append(row)
    headers = ["point", "block", *inputs, *sw["targets"]]
    design = table(headers, rows, numeric=tuple(range(2, len(headers))))
    inputs_table = table(
        ["input", "low", "high", "values"],
        [
            [
                v["path"],
                _fmt(v["low"]),
                _fmt(v["high"]),
                "whole numbers" if v["integer"] else "real",
            ]
            for v in sw["inputs"]
        ],
    )
    sections = [
        ("sensitivity", "Which inputs drive the metrics", "".join(body)),
        (
            "points",
            "Design points",
            inputs_table
            + scatter
            + design
            + '<p class="note">Every point runs the same replications with the same seed (common '
            "random numbers). All metrics of every point: sweep.csv.</p>",
        ),
        ("scenario", "Scenario", _scenario_section([(sw["scenario"], load_scenario_only(folder))])),
        ("manifest", "Manifest", manifest_section(m)),
    ]
    subtitle = [
        esc(
            f"{sw['design']} design: {sw['points']} points x {sw['replications']} replications, "
            f"seed {sw['seed']}"
        ),
        esc(f"command: {m.get('command', '')}"),
    ]
    return page(f"chakong sweep: {sw['scenario']}", subtitle, sections)


def _comparable(metric: str, base_mean: float) -> bool:
    """Worth showing as a % change: a base mean away from 0 (rates: at least 1%)."""
    if not math.isfinite(base_mean) or base_mean == 0:
        return False
    return not (is_rate(metric) and abs(base_mean) < RATE_FLOOR)


def _verdict(s: dict[str, Any]) -> str:
    from sim.study.sensitivity import Sensitivity  # scipy: only a sweep's page needs it

    return Sensitivity.from_json(s).verdict()


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"
