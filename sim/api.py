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
    res.frame(), cmp.frame(), sw.frame()     # pandas DataFrames, when pandas is installed
    sim.report("results/my-run")              # the HTML report of a results folder

Everything runs in this process by default (``workers=1``), which works anywhere. With
``workers=N`` replications run in a forkserver pool of processes; a *script* (not a notebook)
that asks for that must guard its entry point with ``if __name__ == "__main__":``, because
the pool's processes import the script's main module. ``dask="tcp://HOST:8786"`` sends the
work to a Dask cluster instead. Results are the same whichever ran them.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.engine.executors import make_executor
from sim.results.records import CASE_COLUMNS, EVENT_COLUMNS
from sim.results.statistics import Summary
from sim.scenario.loader import LoadedScenario, load_scenario
from sim.study.compare import Comparison
from sim.study.precision import PrecisionOutcome, PrecisionRule
from sim.study.run import RunOutcome, execute, format_table
from sim.study.sweep import DEFAULT_TARGETS, SweepOutcome

DEFAULT_CAP = 100
_TEXT_COLUMNS = {"region", "court", "matter", "outcome", "event", "asset_type", "channel", "agency"}
_INT_COLUMNS = {
    "replication",
    "case_id",
    "debtor_id",
    "asset_id",
    "assets",
    "assets_found",
    "queries",
    "reworks",
}


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
    loaded = load_scenario(path, [*_overrides(changes), *_overrides(fields)])
    return loaded.scaled(loaded.scenario.run.scale if scale is None else scale)


def override(
    loaded: LoadedScenario, changes: Mapping[str, Any] | Sequence[str] | None = None, **fields
) -> LoadedScenario:
    """The same scenario file loaded again with further changes, at the same scale (the
    original is frozen and stays as it was)."""
    again = load_scenario(
        loaded.path, [*loaded.overrides, *_overrides(changes), *_overrides(fields)]
    )
    return again.scaled(loaded.scale)


def _rule(
    precision: float | None, initial: int, cap: int | None, metrics: Sequence[str]
) -> PrecisionRule | None:
    if precision is None:
        return None
    return PrecisionRule(
        precision, cap or max(DEFAULT_CAP, initial), initial, metrics=tuple(metrics)
    )


def _counts(
    loaded: LoadedScenario, replications: int | None, seed: int | None, precision: float | None
) -> tuple[int, int]:
    run = loaded.scenario.run
    if replications is None:
        replications = 3 if precision is not None else run.replications
    return replications, run.seed if seed is None else seed


@contextmanager
def _executor(workers: int, dask: str | None, progress: bool):
    with make_executor(workers, dask, progress) as ex:
        yield ex


# ---------------------------------------------------------------- run


def _typed(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in _TEXT_COLUMNS:
            out[k] = v
        elif v == "":
            out[k] = None if k in _INT_COLUMNS else math.nan
        elif k in _INT_COLUMNS:
            out[k] = int(v)
        else:
            out[k] = float(v)
    return out


def _read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [_typed(row) for row in csv.DictReader(fh)]


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
    loaded: LoadedScenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    records: bool = False,
    precision: float | None = None,
    max_replications: int | None = None,
    precision_metrics: Sequence[str] = (),
    dask: str | None = None,
    out: str | Path | None = None,
    report: bool = True,
    progress: bool = False,
) -> RunResult:
    """Run replications of a scenario (what ``chakong run`` does). With ``out``, the results folder
    is written there (and its report, unless ``report=False``); ``records=True`` also
    returns every case and event as dicts."""
    replications, seed = _counts(loaded, replications, seed, precision)
    rule = _rule(precision, replications, max_replications, precision_metrics)
    with _executor(workers, dask, progress) as ex, tempfile.TemporaryDirectory() as tmp:
        write = out is not None or records
        folder = Path(out) if out is not None else Path(tmp) / "run"
        outcome = execute(
            loaded,
            replications=replications,
            seed=seed,
            workers=workers,
            out=folder if write else None,
            write=write,
            keep_records=records,
            show_progress=progress,
            precision=rule,
            executor=ex,
            report=report and out is not None,
        )
        result = RunResult(
            outcome.scenario,
            seed,
            outcome.summary,
            [r.metrics for r in outcome.replications],
            precision=outcome.precision,
            out_dir=folder if out is not None else None,
            outcome=outcome,
        )
        if records:
            result.cases = _read_rows(folder / "cases.csv")
            result.events = _read_rows(folder / "events.csv")
    return result


# ---------------------------------------------------------------- compare, sweep, report


def compare(
    base: LoadedScenario,
    *others: LoadedScenario,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    precision: float | None = None,
    max_replications: int | None = None,
    precision_metrics: Sequence[str] = (),
    dask: str | None = None,
    out: str | Path | None = None,
    report: bool = True,
    progress: bool = False,
) -> Comparison:
    """Run ``base`` and ``others`` under common random numbers (``chakong compare``);
    ``.to_json()`` is the ``--json`` object, ``.differences[k][metric]`` the paired
    difference of the k-th other scenario, ``.frame()`` a DataFrame."""
    from sim.study.compare import compare as run_compare

    replications, seed = _counts(base, replications, seed, precision)
    rule = _rule(precision, replications, max_replications, precision_metrics)
    with _executor(workers, dask, progress) as ex:
        return run_compare(
            [base, *others],
            seed=seed,
            replications=replications,
            executor=ex,
            precision=rule,
            out=Path(out) if out is not None else None,
            write=out is not None,
            report=report,
            show_progress=progress,
        )


def sweep(
    loaded: LoadedScenario,
    vary: Mapping[str, tuple[float, float]],
    *,
    design: str = "lhs",
    samples: int | None = None,
    metrics: Sequence[str] = DEFAULT_TARGETS,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    precision: float | None = None,
    max_replications: int | None = None,
    precision_metrics: Sequence[str] = (),
    dask: str | None = None,
    out: str | Path | None = None,
    report: bool = True,
    progress: bool = False,
) -> SweepOutcome:
    """A designed sweep (``chakong sweep``): ``vary`` maps dotted paths to (low, high);
    ``.sensitivity[metric]["src"]`` (and ``["sobol"]`` for a sobol design) says which
    inputs drive each metric; ``.frame()`` is the table of points."""
    from sim.study.sweep import make_design, resolve_varies
    from sim.study.sweep import sweep as run_sweep

    texts = [f"{path}={low!r}:{high!r}" for path, (low, high) in vary.items()]
    varies = resolve_varies(loaded.path, loaded.overrides, texts)
    replications, seed = _counts(loaded, replications, seed, precision)
    rule = _rule(precision, replications, max_replications, precision_metrics)
    plan = make_design(design, varies, samples, seed)
    with _executor(workers, dask, progress) as ex:
        return run_sweep(
            loaded.path,
            loaded.overrides,
            varies,
            plan,
            seed=seed,
            replications=replications,
            executor=ex,
            targets=metrics,
            precision=rule,
            scale=loaded.scale,
            out=Path(out) if out is not None else None,
            write=out is not None,
            report=report,
            show_progress=progress,
        )


def report(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Build the HTML report of a results folder; returns its path."""
    from sim.report.build import build_report

    return build_report(Path(results_dir), Path(out) if out is not None else None)
