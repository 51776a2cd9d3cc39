"""What every test folder shares: the project's paths, the real ``chakong`` console
command for tests that need a process of their own (servers, signals, Locust, the console
script itself), and a real headless Chromium for the reports. The simulation's tests run the
command in-process (tests/sim/conftest.py).

The browser is driven with Selenium through Debian's ``chromedriver``, which is built with
the ``chromium`` package and so always matches it; Selenium Manager (which would download
a driver) is never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"


def assert_holds(folder: Path, *names: str) -> None:
    """The results folder holds these files (and maybe others); a failure names the
    missing ones."""
    missing = sorted(set(names) - {p.name for p in folder.iterdir()})
    assert not missing, f"{folder} lacks {missing}"


def chakong_exe() -> list[str]:
    exe = Path(sys.executable).with_name("chakong")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "sim.cli"]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``chakong ARGS`` as a real process (the console script)."""
    env = dict(os.environ, PYTHONWARNINGS="error::DeprecationWarning")
    return subprocess.run(
        [*chakong_exe(), *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def cli():
    return run_cli


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


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (skipped where Chromium or its driver is not installed)."""
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


def cjk_font_used(browser, text: str) -> bool:
    """Whether the page in ``browser`` has the embedded CJK font, and it draws ``text``."""
    return browser.execute_script(
        f"return document.fonts.check('16px \"chakong CJK\"', '{text}') && "
        "Array.from(document.fonts).some(f => f.family.includes('chakong CJK'))"
    )
