"""The load report (``report.html`` of ``chakong load``) in a real headless Chromium: its
images load, its sections and its Chinese font are there, and the console stays clean.

The browser is the one of tests/conftest.py; the report is opened from its file: it needs
nothing else.
"""

from __future__ import annotations

import pytest

from tests.conftest import cjk_font_used
from tests.load.load_stub import LENIENT, LOADED_MACHINE, load_args, run_process, stub_api


@pytest.fixture(scope="module")
def load_dir(tmp_path_factory):
    """A real `chakong load` run (3 s against the stub API)."""
    root = tmp_path_factory.mktemp("load-report")
    out = root / "load-run"
    with stub_api(root) as (url, fixtures):
        done = run_process(*load_args(url, fixtures, out, "--rate", "60", "--duration", "3s",
                                      *LENIENT, *LOADED_MACHINE))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.slow
def test_chromium_renders_the_load_report(browser, load_dir):
    browser.get_log("browser")
    browser.get((load_dir / "report.html").as_uri())  # self-contained: no server needed
    assert browser.title == "chakong load: baseline"
    images = browser.execute_script(
        "return Array.from(document.images).map("
        "i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert [alt for alt, *_ in images] == [
        "time series",
        "requests per second by logical request",
        "latency percentiles by request",
    ]
    for alt, complete, width, height in images:
        assert complete and width > 300 and height > 150, (alt, width, height)
    headings = browser.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)"
    )
    assert headings == [
        "Verdict",
        "Time series",
        "Generator health",
        "Simulated against measured",
        "Latency",
        "Correctness",
        "Controls with the agencies",
        "The run",
        "Files and manifest",
    ]
    # the Chinese terms are drawn with the embedded font, not the machine's
    assert cjk_font_used(browser, "冻结")
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
