"""The processes of a load run, started and always stopped by ``chakong load``.

- the reference API (``chakong serve``) when no ``--host`` is given: on a free loopback
  port with an embedded database in the results folder, until its ``/healthz`` answers;
- Locust: one headless process, or a master and N worker processes (``--workers N``),
  all on loopback, with the plan's path in ``CHAKONG_LOAD_PLAN`` and the fixtures' (the
  courts' tokens) in ``CHAKONG_LOAD_FIXTURES``.

Each child runs in its own session; stopping it terminates (then kills) its whole process
group, so no uvicorn or locust process outlives the run. This module imports neither Locust
nor gevent: the ``chakong`` process never patches the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sim.errors import UserError

LOCUSTFILE = Path(__file__).parents[1] / "generator" / "locustfile.py"
API_START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str, token: str | None = None, timeout: float = 10) -> tuple[int, Any]:
    """GET ``url``; (status, JSON body or None). Raises ``OSError`` when nothing answers."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def check_reachable(host: str) -> None:
    try:
        http_json(host.rstrip("/") + "/healthz", timeout=5)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"--host {host}: cannot connect ({reason})") from None


def _popen(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with log.open("ab") as fh:
        return subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )  # fmt: skip


def stop(proc: subprocess.Popen, grace: float = 10) -> None:
    """Terminate ``proc`` and its process group; kill what is left after ``grace`` s."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group (uvicorn workers)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def serve_available() -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == "serve" for ep in entry_points(group="chakong.commands"))


@contextlib.contextmanager
def reference_api(
    scenario_file: str,
    overrides: list[str],
    seed: int,
    folder: Path,
    private: Path,
    time_scale: float | None = None,
) -> Iterator[tuple[str, Path]]:
    """Start ``chakong serve`` on a free loopback port with a SQLite database in
    ``folder`` (its fixtures, which hold tokens, in the ``private`` folder, never in the
    results), its agencies on ``time_scale`` seconds per simulated day; yield (base URL,
    fixtures file); stop it afterwards."""
    if not serve_available():
        raise UserError(
            "the reference API (chakong serve) is not installed here; "
            "give --host URL --fixtures FILE of a running API"
        )
    port = free_port()
    fixtures = private / "fixtures.json"
    cmd = [
        sys.executable, "-m", "sim.cli", "serve", "--scenario", scenario_file,
        "--host", "127.0.0.1", "--port", str(port), "--seed", str(seed),
        "--db", f"sqlite:///{folder / 'api.db'}", "--fixtures-out", str(fixtures),
        *(("--time-scale", repr(time_scale)) if time_scale is not None else ()),
        *(a for o in overrides for a in ("--set", o)),
    ]  # fmt: skip
    proc = _popen(cmd, folder / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + API_START_SECONDS
        while True:
            if proc.poll() is not None:
                tail = (folder / "api.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise UserError(f"chakong serve exited ({proc.returncode}): {' | '.join(tail)}")
            with contextlib.suppress(OSError):
                if http_json(base + "/healthz", timeout=2)[0] == 200 and fixtures.exists():
                    break
            if time.monotonic() > deadline:
                raise UserError(f"chakong serve did not answer on {base} within "
                                f"{API_START_SECONDS} s; see {folder / 'api.log'}")  # fmt: skip
            time.sleep(0.2)
        yield base, fixtures
    finally:
        stop(proc)


def locust_commands(
    plan_path: Path,
    folder: Path,
    workers: int,
    ui_port: int | None,
    limit_s: float,
    remote_workers: int = 0,
    bind_host: str = "127.0.0.1",
    port: int | None = None,
) -> list[list[str]]:
    """The command lines: one standalone Locust, or a master expecting ``workers`` local
    and ``remote_workers`` remote workers, and the local workers; with ``ui_port``, Locust's
    web UI on that loopback port."""
    total = workers + remote_workers
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
    common = [
        "-u", str(total), "-r", str(total), "-t", f"{round(limit_s)}s",
        "--csv", str(folder / "locust"), "--html", str(folder / "locust.html"),
        "--stop-timeout", "5",
    ]  # fmt: skip
    head = (
        ["--web-host", "127.0.0.1", "--web-port", str(ui_port), "--autostart", "--autoquit", "10"]
        if ui_port
        else ["--headless"]
    )
    if total == 1:
        return [[*base, *head, *common]]
    port = port or free_port()
    master = [
        *base, *head, *common, "--master", "--expect-workers", str(total),
        "--master-bind-host", bind_host, "--master-bind-port", str(port),
    ]  # fmt: skip
    return [master, *([worker_command(port)] * workers)]


def worker_command(port: int, master_host: str = "127.0.0.1", python: str = "") -> list[str]:
    """A Locust worker of this run (on another machine: its master's address)."""
    return [python or sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
            "--master-host", master_host, "--master-port", str(port)]  # fmt: skip


def run_locust(
    plan_path: Path,
    fixtures_path: Path,
    folder: Path,
    workers: int,
    limit_s: float,
    tick: Callable[[float], None] | None = None,
    remote_workers: int = 0,
    bind_host: str = "127.0.0.1",
    port: int | None = None,
    ui_port: int | None = None,
) -> int:
    """Run Locust to the end (every worker reported, or ``limit_s`` plus a margin);
    returns the master's (or standalone process's) exit code. The workers read the
    courts' tokens from ``fixtures_path`` (``CHAKONG_LOAD_FIXTURES``), never the plan."""
    env = dict(os.environ, CHAKONG_LOAD_PLAN=str(plan_path),
               CHAKONG_LOAD_FIXTURES=str(fixtures_path))  # fmt: skip
    env.pop("PYTHONWARNINGS", None)  # Locust's dependencies warn; this is not our test run
    procs = []
    cmds = locust_commands(plan_path, folder, workers, ui_port, limit_s, remote_workers,
                           bind_host, port)  # fmt: skip
    try:
        for i, cmd in enumerate(cmds):
            name = "locust.log" if i == 0 else f"locust-worker-{i}.log"
            procs.append(_popen(cmd, folder / name, env))
        began = time.monotonic()
        while procs[0].poll() is None:
            if time.monotonic() - began > limit_s + 30:
                break
            time.sleep(0.25)
            if tick is not None:
                tick(time.monotonic() - began)
        return procs[0].returncode if procs[0].returncode is not None else -1
    finally:
        for p in procs:
            stop(p)
