"""Self-contained HTML reports of results folders: a run, a comparison, a sweep or
a demand.

:func:`build_report` reads the folder (what kind it is comes from its manifest) and writes
``report.html`` into it, atomically (a temporary file renamed when complete), or to
``out``. The page embeds its plots as PNG ``data:`` URIs and its style inline, so it opens
anywhere without a network. :func:`finish` is the hook the command line and the Python API
hand to a study (:mod:`sim.study.skeleton`): a run folder's PNG plots, then the report.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sim.errors import UserError
from sim.reporting import demand, pages, plots

KINDS = {
    "run": "summary.json",
    "compare": "comparison.json",
    "sweep": "sweep.json",
    "demand": "demand.json",
}


def check_results_dir(folder: Path) -> str:
    """The kind of results folder (``run``, ``compare``, ``sweep``), or a UserError."""
    folder = Path(folder)
    where = f"RESULTS_DIR {folder}"
    if not folder.is_dir():
        raise UserError(f"{where}: not a folder")
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise UserError(f"{where}: not a chakong results folder (no manifest.json)")
    try:
        kind = json.loads(manifest.read_text(encoding="utf-8")).get("kind", "run")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise UserError(f"{where}: manifest.json is not a JSON object") from None
    if kind not in KINDS:
        raise UserError(f"{where}: unknown kind of results '{kind}' in manifest.json")
    needed = folder / KINDS[kind]
    if not needed.is_file():
        raise UserError(f"{where}: a {kind} folder without {KINDS[kind]}")
    try:
        json.loads(needed.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{where}: {KINDS[kind]} is not valid JSON") from None
    return kind


def render(folder: Path) -> str:
    """The report's HTML text."""
    kind = check_results_dir(folder)
    build = {
        "run": pages.run_page,
        "compare": pages.compare_page,
        "sweep": pages.sweep_page,
        "demand": demand.demand_page,
    }
    return build[kind](Path(folder))


def build_report(folder: Path, out: Path | None = None) -> Path:
    """Write the report of ``folder`` to ``out`` (default ``folder/report.html``)."""
    folder = Path(folder)
    text = render(folder)
    dest = Path(out) if out is not None else folder / "report.html"
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.partial-", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for sharing
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def finish(folder: Path, html: bool = True) -> None:
    """Complete a study's folder before it is put in place: a run's PNG plots, and (with
    ``html``) the report."""
    if check_results_dir(folder) == "run":
        plots.write_run_plots(folder)
    if html:
        build_report(folder)
