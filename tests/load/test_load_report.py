"""The load report (``report.html`` of ``chakong load``) in a real headless Chromium: its
images load, its sections and its Chinese font are there, and the console stays clean.

The browser is driven with Selenium through Debian's ``chromedriver`` (never Selenium
Manager, which would download one); the report is opened from its file: it needs nothing
else.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.load.load_stub import LENIENT, load_args, run_process, stub_api

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium is not installed (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    profile = tempfile.mkdtemp(prefix="chakong-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def load_dir(tmp_path_factory):
    """A real `chakong load` run (3 s against the stub API)."""
    root = tmp_path_factory.mktemp("load-report")
    out = root / "load-run"
    with stub_api(root) as (url, fixtures):
        done = run_process(*load_args(url, fixtures, out, "--rate", "60", "--duration", "3s",
                                      *LENIENT))  # fmt: skip
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
    fonts = browser.execute_script(
        "return document.fonts.check('16px \"chakong CJK\"', '冻结') && "
        "Array.from(document.fonts).some(f => f.family.includes('chakong CJK'))"
    )
    assert fonts
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
