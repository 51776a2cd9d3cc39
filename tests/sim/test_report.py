"""HTML reports: what they hold, that they need no network, ``chakong report`` and its
errors, and that a real headless Chromium renders them with their images and no console
errors.

The browser is the one of tests/conftest.py; the report is served from a loopback HTTP
server started here.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest

from sim.reporting.build import build_report, check_results_dir
from sim.results.metrics import HEADLINE_METRICS
from tests.conftest import BASELINE, cjk_font_used
from tests.sim import studies
from tests.sim.command import invoke


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    return studies.run_folder(tmp_path_factory)[0]


@pytest.fixture(scope="session")
def compare_dir(tmp_path_factory):
    return studies.compare_folder(tmp_path_factory)[0]


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory):
    return studies.sweep_folder(tmp_path_factory)[0]


@pytest.fixture(scope="session")
def demand_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demand") / "baseline"
    res = invoke(
        "demand", str(BASELINE), "--set", "horizon_days=15", "--set", "warmup_days=0",
        "--replications", "1", "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return out


def _html(folder: Path) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


IMG = re.compile(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="([^"]*)">')


def _self_contained(text: str) -> None:
    assert text.startswith("<!doctype html>") and '<meta charset="utf-8">' in text
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    refs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), refs
    assert "http://" not in text and "https://" not in text


# ---------------------------------------------------------------- contents


def test_run_report_holds_the_table_plots_scenario_and_manifest(run_dir):
    text = _html(run_dir)
    _self_contained(text)
    assert "<title>chakong run: baseline</title>" in text
    for m in HEADLINE_METRICS:
        assert f"<td>{m}</td>" in text
    assert set(IMG.findall(text)) == {
        "time to close",
        "time to recovery",
        "backlog over time",
        "queries by hour of day",
    }
    assert "终本" in text and "总对总" in text  # Chinese terms live in the HTML text
    assert "# chakong baseline: three provinces" in text  # the scenario file as written
    assert "[regions.hunan]" in text  # the scenario that ran
    assert "chakong run " in text and "manifest.json" in text
    assert "--set horizon_days=150" in text


@pytest.mark.slow
def test_comparison_report_holds_differences_forest_plot_and_every_scenario(compare_dir):
    text = _html(compare_dir)
    _self_contained(text)
    assert "chakong compare: baseline and 2 what-if" in text
    assert "baseline-more-officers against baseline" in text
    assert "baseline-all-central against baseline" in text
    assert "common random numbers" in text and "significant" in text
    assert "forest plot of differences" in IMG.findall(text)
    assert "What if every province of the baseline had 20% more enforcement officers?" in text
    assert "What if the baseline&#x27;s courts sent every query over the central channel" in text
    assert len(IMG.findall(text)) == 5


@pytest.mark.slow
def test_sweep_report_holds_the_sensitivity_chart_and_the_points(sweep_dir):
    text = _html(sweep_dir)
    _self_contained(text)
    assert "chakong sweep: baseline" in text
    assert "sensitivity chart" in IMG.findall(text)
    assert "point means against inputs" in IMG.findall(text)
    assert "driven by regions.hunan.arrival_rate_per_day" in text
    assert "regions.hunan.officers" in text and "whole numbers" in text


def test_a_folder_from_before_reports_still_gets_one(run_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    for name in ("distributions.csv", "queries_by_hour.csv", "scenario.toml", "report.html"):
        (old / name).unlink()
    shutil.rmtree(old / "scenario_files")
    path = build_report(old)
    text = path.read_text(encoding="utf-8")
    assert "time to close: nothing to plot in this results folder" in text
    assert "The scenario files were not kept in this folder" in text
    assert "backlog over time" in IMG.findall(text)


def test_agencies_named_in_chinese_do_not_break_the_plots(tmp_path):
    """Names from a scenario may be Chinese; matplotlib's default font cannot draw them,
    which must not fail the report (warnings are errors here)."""
    import sim

    text = studies.BASELINE.read_text(encoding="utf-8")
    text = re.sub(r"\bbank\b", "银行", text).replace("[agencies.银行]", '[agencies."银行"]')
    text = text.replace("per_agency.银行", 'per_agency."银行"')
    path = tmp_path / "cn.toml"
    path.write_text(text, encoding="utf-8")
    loaded = sim.load(path, horizon_days=30, warmup_days=5)
    sim.simulate(loaded, replications=2, seed=1, records=True, out=tmp_path / "cn")
    html = _html(tmp_path / "cn")
    assert "[agencies.&quot;银行&quot;]" in html and len(IMG.findall(html)) == 4


# ---------------------------------------------------------------- the command


@pytest.mark.slow
def test_report_command_rebuilds_reports_in_place(cli, run_dir, compare_dir, tmp_path):
    copies = []
    for d in (run_dir, compare_dir):
        copy = tmp_path / d.name
        shutil.copytree(d, copy)
        (copy / "report.html").unlink()
        copies.append(copy)
    res = cli("report", *map(str, copies))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [str(c / "report.html") for c in copies]
    for c, d in zip(copies, (run_dir, compare_dir), strict=True):
        assert IMG.findall(_html(c)) == IMG.findall(_html(d))
        assert oct((c / "report.html").stat().st_mode & 0o777) == "0o644"
    res = cli("report", str(copies[0]), "--out", str(tmp_path / "elsewhere" / "r.html"))
    assert res.returncode == 0 and (tmp_path / "elsewhere" / "r.html").is_file()
    assert not list(tmp_path.rglob(".*partial*"))


def _bad_dirs(root: Path) -> dict[str, tuple[Path, str]]:
    empty = root / "empty"
    empty.mkdir()
    broken = root / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    odd = root / "odd"
    odd.mkdir()
    (odd / "manifest.json").write_text('{"kind": "poem"}')
    half = root / "half"
    half.mkdir()
    (half / "manifest.json").write_text('{"kind": "compare"}')
    return {
        "missing": (root / "nope", "not a folder"),
        "empty": (empty, "not a chakong results folder (no manifest.json)"),
        "broken": (broken, "manifest.json is not a JSON object"),
        "odd": (odd, "unknown kind of results 'poem'"),
        "half": (half, "a compare folder without comparison.json"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "broken", "odd", "half"])
def test_a_folder_that_is_not_results_exits_2_and_writes_nothing(cli, tmp_path, run_dir, case):
    folder, message = _bad_dirs(tmp_path)[case]
    good = tmp_path / "good"
    shutil.copytree(run_dir, good)
    (good / "report.html").unlink()
    res = cli("report", str(good), str(folder))
    assert res.returncode == 2, res.stderr
    assert f"chakong report: RESULTS_DIR {folder}: {message}" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (good / "report.html").exists()  # checked every folder before writing any
    assert not (folder / "report.html").exists()


@pytest.mark.slow
def test_out_needs_a_single_folder(cli, run_dir, compare_dir, tmp_path):
    res = cli("report", str(run_dir), str(compare_dir), "--out", str(tmp_path / "r.html"))
    assert res.returncode == 2 and "--out: only with one RESULTS_DIR" in res.stderr


@pytest.mark.slow
def test_check_results_dir_names_the_kind(run_dir, compare_dir, sweep_dir):
    assert [check_results_dir(d) for d in (run_dir, compare_dir, sweep_dir)] == [
        "run",
        "compare",
        "sweep",
    ]


# ---------------------------------------------------------------- a real browser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = studies.shared_root(tmp_path_factory)  # the shared study folders and this process's
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.mark.parametrize(
    "kind",
    [
        "run",
        pytest.param("compare", marks=pytest.mark.slow),
        pytest.param("sweep", marks=pytest.mark.slow),
        "demand",
    ],
)
def test_chromium_renders_the_report_with_its_images_and_no_errors(
    browser, server, kind, run_dir, compare_dir, sweep_dir, demand_dir
):
    folder = {"run": run_dir, "compare": compare_dir, "sweep": sweep_dir, "demand": demand_dir}[
        kind
    ]
    root, base = server
    browser.get_log("browser")  # drop anything from before
    browser.get(f"{base}/{folder.relative_to(root).as_posix()}/report.html")
    assert browser.title.startswith(f"chakong {kind}: ")
    images = browser.execute_script(
        "return Array.from(document.images).map("
        "i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) == len(IMG.findall(_html(folder))) >= 2
    for alt, complete, width, height in images:
        assert complete and width > 300 and height > 150, (alt, width, height)
    headings = browser.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)"
    )
    assert "Manifest" in headings
    if kind == "demand":  # its Chinese term drawn with the embedded font
        assert "Peak of a working day" in headings and cjk_font_used(browser, "调休")
    else:
        assert "Scenario" in headings or "Scenarios" in headings
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
