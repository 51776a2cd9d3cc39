"""The Python API, for notebooks and scripts (re-exported by :mod:`sim`)::

    import sim

    base = sim.load("scenarios/baseline.toml", horizon_days=200, warmup_days=20)
    more = sim.override(base, {"regions.hunan.officers": 20})
    res = sim.simulate(base, replications=5, seed=1, records=True)
    res.summary["time_to_close_days_mean"].mean, res.summary["time_to_close_days_mean"].ci95
    res.cases[:3], res.events[:3]            # plain dicts, one per case / event
    cmp = sim.compare(base, more, replications=5)
    cmp.to_json()                            # the `chakong compare --json` object
    sw = sim.sweep(base, {"regions.hunan.officers": (10, 18)}, samples=6, replications=2)
    nat = sim.load("scenarios/national-2023.toml", scale=0.002)
    sim.calibrate(nat, replications=2)["passed"]   # `chakong calibrate --json`
    fitted = sim.fit(nat, replications=2, max_evaluations=10)   # `chakong calibrate --fit`
    fitted.fitted, fitted.rows                # values, each figure beside the model
    res.frame(), cmp.frame(), sw.frame()     # pandas DataFrames, when pandas is installed
    sim.report("results/my-run")              # the HTML report of a results folder

Everything runs in this process by default (``workers=1``), which works anywhere. With
``workers=N`` replications run in a forkserver pool of processes; a *script* (not a notebook)
that asks for that must guard its entry point with ``if __name__ == "__main__":``, because
the pool's processes import the script's main module. ``dask="tcp://HOST:8786"`` sends the
work to a Dask cluster instead. Results are the same whichever ran them.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypedDict, Unpack

from sim.model.events import CASE_COLUMNS, EVENT_COLUMNS
from sim.reporting.build import build_report, finish
from sim.results.records import CASES_CSV, EVENTS_CSV, read_rows
from sim.results.statistics import Summary
from sim.scenario.loader import LoadedScenario, load_scenario
from sim.study.calibrate import calibrate as calibrate_study
from sim.study.compare import Comparison
from sim.study.compare import compare as compare_study
from sim.study.design import make_design, resolve_varies
from sim.study.fit import FitOutcome
from sim.study.fit import fit as fit_study
from sim.study.precision import PrecisionOutcome
from sim.study.run import RunOutcome, format_table
from sim.study.run import run as run_study
from sim.study.settings import Settings, fit_options, resolve_given, scaled
from sim.study.skeleton import NO_FOLDER, Folder
from sim.study.sweep import DEFAULT_TARGETS, SweepOutcome
from sim.study.sweep import sweep as sweep_study


def toml_value(value: Any) -> str:
    """A Python value as a TOML value for an override (tables become inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Iterable):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as a TOML value")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _overrides(changes: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    if not changes:
        return []
    if isinstance(changes, Mapping):
        return [f"{path}={toml_value(v)}" for path, v in changes.items()]
    return list(changes)


def load(
    path: str | Path,
    changes: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    scale: float | None = None,
    **fields: Any,
) -> LoadedScenario:
    """Load a scenario file, with changes as ``{"dotted.path": value}`` (or ``--set``
    strings) and top-level fields as keywords (``horizon_days=200``). ``scale`` (default:
    the file's ``[run] scale``, as on the command line) runs a fraction of the volume."""
    return scaled(load_scenario(path, [*_overrides(changes), *_overrides(fields)]), scale)


def override(
    loaded: LoadedScenario, changes: Mapping[str, Any] | Sequence[str] | None = None, **fields
) -> LoadedScenario:
    """The same scenario file loaded again with further changes, at the same scale (the
    original is frozen and stays as it was)."""
    again = load_scenario(
        loaded.path, [*loaded.overrides, *_overrides(changes), *_overrides(fields)]
    )
    return again.scaled(loaded.scale)


class StudyOptions(TypedDict, total=False):
    """The keyword arguments every study takes (``chakong``'s flags of the same names).

    - ``replications``: how many (default: the scenario's ``[run] replications``; with
      ``precision``, where the replication algorithm starts: 3); at least 2;
    - ``seed``: default the scenario's ``[run] seed``;
    - ``workers``: processes (default 1: this process); ``dask``: a scheduler address;
    - ``precision``, ``max_replications``, ``precision_metrics``: replications until every
      (judged) metric's 95% half-width is under ``precision`` x its mean, up to the cap;
    - ``out``: write the results folder there, with its report unless ``report=False``;
    - ``progress``: a progress bar on stderr (default off).
    """

    replications: int
    seed: int
    workers: int
    precision: float
    max_replications: int
    precision_metrics: Sequence[str]
    dask: str
    out: str | Path
    report: bool
    progress: bool


def _settings(loaded: LoadedScenario, options: StudyOptions) -> Settings:
    """The command line's resolver: the same defaults (but one worker, no progress bar),
    the same refusals."""
    given: dict[str, Any] = {"workers": 1, "progress": False, **options}
    return resolve_given(loaded.scenario.run, given)


def _folder(options: StudyOptions) -> Folder:
    """Where the study writes (only with ``out``), finished by the report's hook."""
    out = options.get("out")
    if out is None:
        return NO_FOLDER
    return Folder(Path(out), True, partial(finish, html=options.get("report", True)))


# ---------------------------------------------------------------- run


def _frame(rows: list[dict[str, Any]], columns: Sequence[str] | None = None):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("DataFrames need pandas: pip install pandas") from None
    return pd.DataFrame(rows, columns=list(columns) if columns else None)


@dataclass
class RunResult:
    """A run's figures as plain Python objects."""

    name: str
    seed: int
    summary: dict[str, Summary]  # metric -> mean, 95% interval, n
    per_replication: list[dict[str, float]]  # every metric of every replication
    cases: list[dict[str, Any]] | None = None  # one dict per case, with records=True
    events: list[dict[str, Any]] | None = None  # one dict per event, with records=True
    precision: PrecisionOutcome | None = None
    out_dir: Path | None = None
    outcome: RunOutcome | None = field(default=None, repr=False)  # the run, whole

    @property
    def replications(self) -> int:
        return len(self.per_replication)

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """``{metric: {"mean": x, "ci95": [lo, hi], "n": n}}``, as ``chakong run --json``."""
        return self.to_json()["metrics"]

    def to_json(self) -> dict[str, Any]:
        """The ``chakong run --json`` object."""
        assert self.outcome is not None
        return self.outcome.to_json()

    def table(self) -> str:
        """The table ``chakong run`` prints."""
        assert self.outcome is not None
        return format_table(self.outcome)

    def frame(self):
        """The summary as a DataFrame: metric, mean, ci95_low, ci95_high, n."""
        rows = [
            {"metric": m, "mean": s.mean, "ci95_low": s.ci95[0], "ci95_high": s.ci95[1], "n": s.n}
            for m, s in self.summary.items()
        ]
        return _frame(rows).set_index("metric")

    def replications_frame(self):
        return _frame([{"replication": i, **r} for i, r in enumerate(self.per_replication)])

    def cases_frame(self):
        return _frame(self._need(self.cases, "cases"), CASE_COLUMNS)

    def events_frame(self):
        return _frame(self._need(self.events, "events"), EVENT_COLUMNS)

    @staticmethod
    def _need(rows: list[dict[str, Any]] | None, what: str) -> list[dict[str, Any]]:
        if rows is None:
            raise ValueError(f"no {what}: run with records=True")
        return rows


def simulate(
    loaded: LoadedScenario, *, records: bool = False, **options: Unpack[StudyOptions]
) -> RunResult:
    """Run replications of a scenario (what ``chakong run`` does; options:
    :class:`StudyOptions`). With ``out``, the results folder is written there (and its
    report, unless ``report=False``); ``records=True`` also returns every case and event
    as dicts."""
    settings = _settings(loaded, options)
    folder = _folder(options)
    with settings.executor() as ex, tempfile.TemporaryDirectory() as tmp:
        if records and not folder.write:  # the records go through a folder of their own
            folder = Folder(Path(tmp) / "run")
        outcome = run_study(loaded, settings, ex, folder, keep_records=records)
        result = RunResult(
            outcome.scenario,
            settings.seed,
            outcome.summary,
            [r.metrics for r in outcome.replications],
            precision=outcome.precision,
            out_dir=outcome.out_dir if "out" in options else None,
            outcome=outcome,
        )
        if records and outcome.out_dir is not None:
            result.cases = read_rows(outcome.out_dir / CASES_CSV)
            result.events = read_rows(outcome.out_dir / EVENTS_CSV)
    return result


# ---------------------------------------------------------------- compare, sweep, report


def compare(
    base: LoadedScenario, *others: LoadedScenario, **options: Unpack[StudyOptions]
) -> Comparison:
    """Run ``base`` and ``others`` under common random numbers (``chakong compare``;
    options: :class:`StudyOptions`); ``.to_json()`` is the ``--json`` object,
    ``.differences[k][metric]`` the paired difference of the k-th other scenario,
    ``.frame()`` a DataFrame."""
    settings = _settings(base, options)
    with settings.executor() as ex:
        return compare_study([base, *others], settings, ex, _folder(options))


def sweep(
    loaded: LoadedScenario,
    vary: Mapping[str, tuple[float, float]],
    *,
    design: str = "lhs",
    samples: int | None = None,
    metrics: Sequence[str] = DEFAULT_TARGETS,
    **options: Unpack[StudyOptions],
) -> SweepOutcome:
    """A designed sweep (``chakong sweep``; options: :class:`StudyOptions`): ``vary`` maps
    dotted paths to (low, high); ``.sensitivity[metric]["src"]`` (and ``["sobol"]`` for a
    sobol design) says which inputs drive each metric; ``.frame()`` is the table of
    points."""
    texts = [f"{path}={low!r}:{high!r}" for path, (low, high) in vary.items()]
    varies = resolve_varies(loaded.path, loaded.overrides, texts)
    settings = _settings(loaded, options)
    plan = make_design(design, varies, samples, settings.seed)
    with settings.executor() as ex:
        return sweep_study(
            loaded.path,
            loaded.overrides,
            varies,
            plan,
            settings,
            ex,
            _folder(options),
            targets=metrics,
            scale=loaded.scale,
        )


def calibrate(loaded: LoadedScenario, **options: Unpack[StudyOptions]) -> dict[str, Any]:
    """Every ``[[calibration]]`` figure beside the simulated mean (``chakong calibrate
    --json``); ``["passed"]`` says whether every target was met."""
    return calibrate_study(loaded, _settings(loaded, options))


def fit(
    loaded: LoadedScenario,
    *,
    samples: int | None = None,
    max_evaluations: int | None = None,
    **options: Unpack[StudyOptions],
) -> FitOutcome:
    """Fit the ``[fit]`` parameters to the targets (``chakong calibrate --fit``; options:
    :class:`StudyOptions`); ``.fitted`` holds the values, ``.rows`` every published figure
    beside the model at them, ``.to_json()`` the ``--json`` object. With ``out``, the
    results folder (fit.json, fitted.set, fitted.toml...) is written there."""
    how = fit_options(samples, max_evaluations)
    settings = _settings(loaded, options)
    out = options.get("out")
    with settings.executor() as ex:
        return fit_study(loaded, settings, ex, Folder(Path(out)) if out else NO_FOLDER, how)


def report(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Build the HTML report of a results folder; returns its path."""
    return build_report(Path(results_dir), Path(out) if out is not None else None)
