"""``chakong serve``: the reference query-and-control API on uvicorn.

Registered through the ``chakong.commands`` entry point (``sim`` never imports ``load``).
At start it checks the flags and the scenario, binds the port (a port in use is a clear
error, exit 2), then either finds the world an earlier server left in the database and
resumes it (the same scenario, seed and time scale; the schema version checked; the audit
log verified against its last checkpoint) or, on an empty database or with ``--reset``,
writes a fresh world (courts and tokens, debtors and their assets, from the scenario and the
seed, and a new audit key in the state folder); it writes the fixtures file, and only then
lets uvicorn's workers accept requests on the socket it bound.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sim.cli import options
from sim.cli.options import non_negative_int, positive_int
from sim.errors import UserError

EPILOG = """\
examples:
  chakong serve --scenario scenarios/baseline.toml --fixtures-out fixtures.json
  chakong serve --scenario scenarios/baseline.toml --port 0 --fixtures-out f.json   # any free port
  chakong serve --scenario scenarios/baseline.toml --time-scale 1 --seed 7   # a day per second
  chakong serve --scenario scenarios/baseline.toml --workers 4 \
      --db postgresql://postgres@127.0.0.1/chakong
  chakong serve --scenario scenarios/baseline.toml --set api.debtors=10000
  chakong serve --scenario scenarios/baseline.toml --db sqlite:///api.db --reset   # start afresh

A database that holds a world (from an earlier run of the same command) is resumed, with
its cases, controls and audit log; --reset drops every chakong table and starts afresh.
Default: an SQLite file in a temporary folder, removed at exit. Then:
  curl -s localhost:8000/healthz
  curl -s localhost:8000/openapi.json      # the contract; /docs renders it
"""


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def port_number(text: str) -> int:
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {value}")
    return value


def register(subparsers: Any, scenario_parent: argparse.ArgumentParser) -> None:
    p = options.command(
        subparsers,
        "serve",
        [scenario_parent],
        serve,
        help="run the reference query-and-control API",
        description="Run the reference query-and-control HTTP API for a scenario: courts with "
        "bearer tokens, debtors with assets at the agencies, queries answered on a scaled "
        "clock, freezes and deductions with the region's rules. OpenAPI at /openapi.json.",
        epilog=EPILOG,
    )
    p.add_argument("--scenario", required=True, metavar="FILE", help="scenario file (TOML)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=port_number, default=8000, help="port (default 8000; 0: any free port)"
    )
    p.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///FILE or postgresql://USER@HOST/DB (default: a temporary SQLite file)",
    )
    p.add_argument("--workers", type=positive_int, default=1, help="uvicorn worker processes")
    p.add_argument(
        "--time-scale",
        type=positive_float,
        metavar="X",
        help="seconds of wall time per simulated day (default: the scenario's [api] "
        "time_scale, 60)",
    )
    p.add_argument(
        "--seed", type=non_negative_int, help="seed of the world (default: the scenario's)"
    )
    p.add_argument("--fixtures-out", metavar="FILE", help="write tokens and debtors here (JSON)")
    p.add_argument(
        "--reset",
        action="store_true",
        help="drop the world the database holds and write a fresh one (default: resume it)",
    )
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help="the audit key, audit checkpoints and the shared clock (default: FILE.state "
        "beside an SQLite file; ~/.local/state/chakong/... for PostgreSQL); "
        "CHAKONG_AUDIT_KEY gives the audit key instead of DIR/audit.key",
    )
    p.add_argument(
        "--body-timeout",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="a request body must arrive whole within S seconds (default 10): 408",
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a UserError saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"--port: port {port} on {host} is already in use") from None
        raise UserError(f"--host/--port: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def write_fixtures(path: str, fixtures: dict[str, Any]) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(json.dumps(fixtures, indent=1, ensure_ascii=False) + "\n")
        tmp.replace(target)
    except OSError as exc:
        raise UserError(f"--fixtures-out: cannot write {path}: {exc.strerror}") from None


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _stopped(signum: int, frame: object) -> None:
    """uvicorn has already stopped serving when this runs."""


def shown(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def serve(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides).scenario
    seed = scenario.run.seed if args.seed is None else args.seed
    # SIGTERM before uvicorn runs: exit through Python (the temporary folder is removed)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="chakong-serve-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'chakong-api.sqlite3'}"
        sock = bind(args.host, args.port)
        try:
            state = args.state_dir or (tmp if args.db is None else None)
            fixtures, how, state_dir = prepare_world(
                url, scenario, seed, args.time_scale, args.reset, state
            )
            fixtures = {"base_url": base_url(sock), **fixtures}
            if args.fixtures_out:
                write_fixtures(args.fixtures_out, fixtures)
            os.environ["CHAKONG_API_DB"] = url
            os.environ["CHAKONG_API_STATE"] = str(state_dir)
            os.environ["CHAKONG_API_BODY_SECONDS"] = repr(args.body_timeout)
            if args.workers > 1:
                metrics_dir = Path(tmp) / "metrics"
                metrics_dir.mkdir()
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            scale = scenario.api.time_scale if args.time_scale is None else args.time_scale
            print(
                f"chakong serve: {fixtures['base_url']} ({args.workers} worker"
                f"{'s' if args.workers > 1 else ''}, {shown(url)}, one simulated day = "
                f"{scale:g} s, seed {seed}, {len(fixtures['courts'])} courts, "
                f"{len(fixtures['debtors'])} debtors, {how}, state in {state_dir})"
                + (f"; fixtures in {args.fixtures_out}" if args.fixtures_out else ""),
                file=sys.stderr,
                flush=True,
            )
            # uvicorn shuts down gracefully on SIGTERM, restores this handler and raises
            # the signal again: let that return here, to the clean-up below
            signal.signal(signal.SIGTERM, _stopped)
            run_uvicorn(sock, args.workers)
        finally:
            sock.close()
    return 0


def prepare_world(
    url: str,
    scenario: Any,
    seed: int,
    time_scale: float | None,
    reset: bool,
    state_dir: str | None,
) -> tuple[dict[str, Any], str, Path]:
    """The fixtures of the world in the database (resumed, or written afresh), how it came
    about ("new world" or "resumed"), and the state folder."""
    from load.api import admin
    from load.api.checkpoint import CheckpointFile
    from load.api.fixtures import create_world, resume_world
    from load.api.schema import SCHEMA_VERSION
    from load.api.state import SharedClock, StateDir, default_dir
    from load.api.world import World

    with _database(url) as db:
        state = StateDir(state_dir or default_dir(db.url))
        version = db.stored_version()
        fresh = reset or version is None
        if not fresh and version != SCHEMA_VERSION:
            raise UserError(
                f"--db: {shown(url)} holds a chakong world of schema version {version}; this "
                f"server reads version {SCHEMA_VERSION}: start with --reset to wipe it"
            )
        state.make()
        if fresh:
            state.new_key()
            state.checkpoint_file.unlink(missing_ok=True)
            fixtures = create_world(db, scenario, seed, time_scale)
        else:
            fixtures = resume_world(db, scenario, seed, time_scale)
        world = World.load(db, state.key())
        clock = SharedClock(state.clock_file)
        clock.set(world.clock.offset())  # the offset the database keeps
        clock.close()
        if not fresh:
            kept = CheckpointFile(state.checkpoint_file)
            checked = db.snapshot(lambda c: admin.verify_audit(c, world, kept))
            if not checked["ok"]:
                print(
                    "chakong serve: warning: the audit log does not verify "
                    f"({checked['problem_count']} problems, first: {checked['problems'][0]}); "
                    "GET /v1/admin/audit/verify lists them",
                    file=sys.stderr,
                    flush=True,
                )
        return fixtures, "new world" if fresh else "resumed", state.path


@contextlib.contextmanager
def _database(url: str) -> Iterator[Any]:
    """The database at ``url`` while the world is prepared in it; one that cannot be used
    is a clear --db error."""
    from sqlalchemy.exc import OperationalError

    from load.api.db import Database

    db = Database(url, pool_size=1)
    try:
        yield db
    except OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise UserError(f"--db: cannot use {shown(url)}: {first}") from None
    finally:
        db.dispose()


def run_uvicorn(sock: socket.socket, workers: int) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "load.api.app:create_app",
        factory=True,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])
