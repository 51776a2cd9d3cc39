"""The load report (``report.html`` of ``chakong load``) in a real headless Chromium: its
images load, its sections are there, and the console stays clean.

The browser is driven with Selenium through Debian's ``chromedriver`` (never Selenium
Manager, which would download one); the report is served from a loopback HTTP server.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import tempfile
import threading

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


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


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
def server(tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
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


@pytest.fixture(scope="module")
def load_dir(server):
    """A real `chakong load` run (3 s against the stub API), inside the served folder."""
    root, _ = server
    out = root / "load-run"
    with stub_api(root) as (url, fixtures):
        done = run_process(*load_args(url, fixtures, out, "--rate", "60", "--duration", "3s",
                                      *LENIENT))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.slow
def test_chromium_renders_the_load_report(browser, server, load_dir):
    root, base = server
    browser.get_log("browser")
    browser.get(f"{base}/{load_dir.relative_to(root).as_posix()}/report.html")
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
