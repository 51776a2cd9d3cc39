"""Controlling a run: SIGTERM (a real process), abort-on-fail, --ui's URL, --find-capacity."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT
from tests.load.load_stub import LENIENT, chakong_command, load_args, no_process_mentions, stub_api


def _partial(tmp_path):
    return [p for p in tmp_path.iterdir() if p.name.startswith(".out.partial-")]


@pytest.mark.slow
def test_sigterm_stops_everything_and_leaves_no_folder(tmp_path):
    with stub_api(tmp_path) as (url, fixtures):
        cmd = [
            *chakong_command(),
            *load_args(
                url, fixtures, tmp_path / "out", "--rate", "50", "--duration", "60s", *LENIENT
            ),
        ]
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until the open clock runs
                if any((p / "live.jsonl").exists() for p in _partial(tmp_path)):
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the run never started")
            partial = _partial(tmp_path)[0]
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=40)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not _partial(tmp_path)
    assert no_process_mentions(partial.name)  # neither Locust nor its workers outlive it


FULL_S = 90  # the duration asked for, which an abort cuts short


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rate", "threshold", "aborted_within_s"),
    [
        pytest.param("50", "all: corrected_p99 < 1 abort", 20, id="all requests"),
        pytest.param("80", "freeze: corrected_p99 < 1 abort", 25, id="one request"),
    ],
)
def test_an_abort_threshold_stops_the_run_early(
    chakong, tmp_path, rate, threshold, aborted_within_s
):
    began = time.monotonic()
    with stub_api(tmp_path, "--delay", "0.02") as (url, fixtures):
        r = chakong(
            *load_args(
                url,
                fixtures,
                tmp_path / "out",
                "--rate",
                rate,
                "--duration",
                f"{FULL_S}s",
                "--threshold",
                threshold,
                *LENIENT,
            )
        )
    assert r.returncode == 1, r.stderr
    # the command itself ended early: had the run gone on, it would have taken its 90 s and
    # more (the start and the report add 5 to 10 s here, several times that on a loaded
    # slow machine: a bound of the abort's time plus 15 s was too near for such a machine)
    assert time.monotonic() - began < FULL_S
    s = json.loads(r.stdout)
    assert s["run"]["abort"]["threshold"] == threshold
    assert s["run"]["aborted_at_s"] is not None and s["run"]["aborted_at_s"] < aborted_within_s
    failed = [c["check"] for c in s["slo"]["checks"] if not c["passed"]]
    assert threshold in failed


@pytest.mark.slow
def test_ui_prints_its_url(chakong, tmp_path):
    with stub_api(tmp_path) as (url, fixtures):
        r = chakong(
            *load_args(
                url,
                fixtures,
                tmp_path / "out",
                "--rate",
                "20",
                "--duration",
                "2s",
                "--ui",
                *LENIENT,
                # 41 arrivals: one answer late on a loaded machine is 2.4% of them. This test
                # checks the UI; test_load_command checks the achieved-rate SLO.
                "--set",
                "load.slo.achieved_rate_min=0.5",
            )
        )
    assert r.returncode == 0, r.stderr
    assert "Locust web UI: http://127.0.0.1:" in r.stderr


@pytest.mark.slow
def test_find_capacity_steps_up_until_a_check_fails(chakong, tmp_path):
    out = tmp_path / "out"
    # one connection to a server answering in 50 ms carries 20 requests/s: 4 and 16 are
    # 20% and 80% of it, 64 more than three times it (the queue then grows by seconds)
    run = (
        "--rate", "4", "--find-capacity", "--step-duration", "3s", "--capacity-factor", "4",
        "--max-steps", "3", "--threshold", "all: corrected_p99 < 1500",
        "--set", "load.slo.p99_ms={}", "--set", "load.max_in_flight=1",
        "--set", "load.prime_max_seconds=2",
    )  # fmt: skip
    with stub_api(tmp_path, "--delay", "0.05") as (url, fixtures):
        r = chakong(*load_args(url, fixtures, out, *run, *LENIENT))
    s = json.loads(r.stdout)
    steps = s["steps"]
    assert [st["rate"] for st in steps] == [4, 16, 64][: len(steps)]
    assert steps[0]["passed"] and not steps[-1]["passed"], steps
    assert s["capacity_rate"] in (4, 16) and "carries" in s["verdict"]
    assert r.returncode == 0
    for st in steps:
        assert (out / st["folder"] / "summary.json").exists()
        assert (out / st["folder"] / "report.html").exists()
    assert "Capacity" in (out / "report.html").read_text()
