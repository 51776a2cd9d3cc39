"""Benchmark of the reference API against a hello-world on the same server stack.

    python -m load.bench.api [--duration 10] [--connections 32] [--json] [--pg URL]

In one run:

1. a bare hello-world FastAPI app on uvicorn (uvloop, httptools, one worker, no access
   log: the same stack ``chakong serve`` runs), driven by ``wrk`` for its requests/s;
2. ``chakong serve`` on SQLite with one worker: ``GET /v1/queries/{id}`` (answered queries
   with findings) and ``POST /v1/controls`` (1-fen deductions, a distinct Idempotency-Key
   per request, from a Lua script) driven by ``wrk`` the same way; their ratios to the
   hello-world (targets: at least 0.40 and 0.20);
3. each of the two again at half its measured throughput, at a constant rate from an
   open-loop driver (asyncio + httpx): latency counted from when each request was due,
   so a stall shows in the percentiles (no coordinated omission); the p99 target is
   50 ms;
4. with PostgreSQL reachable: the same two endpoints on PostgreSQL with 1, 2 and 4
   workers side by side (32 wrk connections per worker, the deductions spread over
   :data:`PG_CASES` cases so that no single case's row serialises them).

Not a test: the figures depend on the machine; they are printed (``--json``: one object).
``wrk`` comes from the distribution (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI
from fastapi.responses import Response

from load.bench.settings import BENCH_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "baseline.toml"
CASES = 24  # cases of the SQLite run (its writes are serial anyway)
PG_CASES = 192  # cases of the PostgreSQL runs


def hello_app() -> FastAPI:
    """The reference point: one route, JSON out, nothing else."""
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> Response:
        return Response(b'{"hello":"world"}', media_type="application/json")

    return app


# ---------------------------------------------------------------- servers


class Process:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self) -> None:
        from load.harness.processes import stop

        stop(self.proc, grace=15)
        self.log.close()


def wait_healthy(url: str, proc: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"server exited: {Path(proc.log.name).read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not up in {timeout} s")


def start_hello(tmp: Path) -> tuple[Process, str]:
    port = free_port()
    proc = Process(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "load.bench.api:hello_app",
            "--factory",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        tmp / "hello.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url + "/hello", proc)
    return proc, url


def start_api(
    tmp: Path, db: str, workers: int, extra: tuple[str, ...] = ()
) -> tuple[Process, dict[str, Any]]:
    fixtures = tmp / f"fixtures-{uuid.uuid4().hex[:6]}.json"
    exe = Path(sys.executable).with_name("chakong")
    args = [
        str(exe),
        "serve",
        "--scenario",
        str(BASELINE),
        "--port",
        "0",
        "--db",
        db,
        "--workers",
        str(workers),
        "--time-scale",
        "1",
        "--fixtures-out",
        str(fixtures),
        "--state-dir",
        str(tmp / f"state-{uuid.uuid4().hex[:6]}"),
    ]
    for s in (*BENCH_SETTINGS, *extra):
        args += ["--set", s]
    proc = Process(args, tmp / f"api-{workers}.log")
    deadline = time.monotonic() + 60
    while not fixtures.exists():
        if proc.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chakong serve failed: {Path(proc.log.name).read_text()}")
        time.sleep(0.1)
    data = json.loads(fixtures.read_text())
    wait_healthy(data["base_url"] + "/healthz", proc)
    return proc, data


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- the API's world


def prepare(
    fixtures: dict[str, Any], cases: int = CASES
) -> tuple[str, list[int], list[dict[str, Any]]]:
    """Open cases, query them, freeze a bank deposit each: (token, query ids, deductions)."""
    court = next(iter(fixtures["courts"].values()))
    h = {"Authorization": f"Bearer {court['token']}"}
    queries, deducts = [], []
    with httpx.Client(base_url=fixtures["base_url"], timeout=30) as c:
        for d in fixtures["debtors"][:cases]:
            case = c.post(
                "/v1/cases", json={"debtor_id": d["debtor_id"], "claim_fen": 10**14}, headers=h
            ).json()["case_id"]
            q = c.post(
                "/v1/queries", json={"case_id": case, "channel": "central"}, headers=h
            ).json()["query_id"]
            queries.append((case, q))
        for case, q in queries:
            for _ in range(200):
                view = c.get(f"/v1/queries/{q}", headers=h).json()
                if view["status"] == "answered":
                    break
                time.sleep(0.05)
            bank = next(f for f in view["findings"] if f["asset_type"] == "bank_deposit")
            r = c.post(
                "/v1/controls",
                headers={**h, "Idempotency-Key": uuid.uuid4().hex},
                json={"case_id": case, "asset_id": bank["asset_id"], "action": "freeze"},
            )
            assert r.status_code == 201, r.text
            deducts.append(
                {"case_id": case, "asset_id": bank["asset_id"], "action": "deduct", "amount_fen": 1}
            )
    return court["token"], [q for _, q in queries], deducts


# ---------------------------------------------------------------- wrk

GET_LUA = """
local ids = {%(ids)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/queries/" .. ids[(n %% #ids) + 1],
                    {["Authorization"] = "Bearer %(token)s"})
end
"""

POST_LUA = """
local bodies = {%(bodies)s}
local n = 0
local tid = 0
local created = {}
setup = function(thread)
  tid = tid + 1
  thread:set("tid", tid)
end
request = function()
  n = n + 1
  local headers = {["Authorization"] = "Bearer %(token)s",
                   ["Content-Type"] = "application/json",
                   ["Idempotency-Key"] = string.format("%(run)s-%%d-%%d", tid, n)}
  return wrk.format("POST", "/v1/controls", headers, bodies[(n %% #bodies) + 1])
end
"""


def wrk(url: str, duration: int, connections: int, lua: str | None, tmp: Path) -> dict[str, Any]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if lua is not None:
        script = tmp / f"{uuid.uuid4().hex[:6]}.lua"
        script.write_text(lua)
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": round(rps, 1),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


# ---------------------------------------------------------------- open loop


def http_request(method: str, path: str, headers: dict[str, str], body: Any = None) -> bytes:
    """One HTTP/1.1 request, as bytes on the wire."""
    data = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def open_loop(
    url: str, rate: float, duration: float, make: Any, connections: int = 64
) -> dict[str, Any]:
    """Send request ``make(i)`` (bytes) at ``rate`` a second, each due at
    ``start + i / rate``, over ``connections`` keep-alive connections; latency is counted
    from when a request was due, so time it waited for a free connection counts too (no
    coordinated omission). Plain asyncio streams: an HTTP client library costs more CPU
    per request than the server being measured, on the same cores."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    total = int(rate * duration)
    latencies = np.zeros(total)
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    start = time.perf_counter() + 0.5

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (i := await queue.get()) >= 0:
            writer.write(make(i))
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            latencies[i] = time.perf_counter() - (start + i / rate)
            status = int(head[9:12])
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    lag = 0.0
    for i in range(total):
        wait = start + i / rate - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            lag = max(lag, -wait)
        queue.put_nowait(i)
    for _ in workers:
        queue.put_nowait(-1)
    await asyncio.gather(*workers)
    ms = latencies * 1000
    return {
        "rate": round(rate, 1),
        "requests": total,
        "statuses": statuses,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "driver_max_lag_ms": round(lag * 1000, 2),
    }


def run_open_loop(*args: Any) -> dict[str, Any]:
    import uvloop

    return uvloop.run(open_loop(*args))


# ---------------------------------------------------------------- the run


def measure_api(
    fixtures: dict[str, Any],
    duration: int,
    connections: int,
    tmp: Path,
    half_load: bool,
    hello_rps: float | None,
    cases: int = CASES,
) -> dict[str, Any]:
    token, query_ids, deducts = prepare(fixtures, cases)
    url = fixtures["base_url"]
    run = uuid.uuid4().hex[:8]
    get = wrk(
        url,
        duration,
        connections,
        GET_LUA % {"ids": ", ".join(map(str, query_ids)), "token": token},
        tmp,
    )
    bodies = ", ".join("[[" + json.dumps(b) + "]]" for b in deducts)
    post = wrk(
        url, duration, connections, POST_LUA % {"bodies": bodies, "token": token, "run": run}, tmp
    )
    out: dict[str, Any] = {"get_queries": get, "post_controls": post}
    if hello_rps:
        get["ratio_to_hello"] = round(get["rps"] / hello_rps, 3)
        post["ratio_to_hello"] = round(post["rps"] / hello_rps, 3)
    if half_load:
        auth = {"Authorization": f"Bearer {token}"}
        get["half_load"] = run_open_loop(
            url,
            get["rps"] / 2,
            duration,
            lambda i: http_request("GET", f"/v1/queries/{query_ids[i % len(query_ids)]}", auth),
        )
        post["half_load"] = run_open_loop(
            url,
            post["rps"] / 2,
            duration,
            lambda i: http_request(
                "POST",
                "/v1/controls",
                {**auth, "Idempotency-Key": f"{run}-open-{i}"},
                deducts[i % len(deducts)],
            ),
        )
    admin = {"Authorization": f"Bearer {fixtures['admin_token']}"}
    out["reconcile_ok"] = httpx.get(url + "/v1/admin/reconcile", headers=admin, timeout=120).json()[
        "ok"
    ]
    out["audit_ok"] = httpx.get(url + "/v1/admin/audit/verify", headers=admin, timeout=120).json()[
        "ok"
    ]
    return out


def pg_database(admin_url: str) -> tuple[str, Any]:
    """A fresh database on the server at ``admin_url`` and a function that drops it."""
    import psycopg

    name = f"chakong_bench_{uuid.uuid4().hex[:8]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m load.bench.api",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server for the workers run ('' to skip)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("load.bench.api: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    result: dict[str, Any] = {
        "duration_s": args.duration,
        "connections": args.connections,
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="chakong-bench-") as name:
        tmp = Path(name)
        hello, url = start_hello(tmp)
        try:
            result["hello"] = wrk(url + "/hello", args.duration, args.connections, None, tmp)
        finally:
            hello.stop()
        hello_rps = result["hello"]["rps"]
        api, fixtures = start_api(tmp, f"sqlite:///{tmp / 'bench.sqlite3'}", 1)
        try:
            result["sqlite_1_worker"] = measure_api(
                fixtures, args.duration, args.connections, tmp, True, hello_rps
            )
        finally:
            api.stop()
        if args.pg:
            for workers in (1, 2, 4):
                try:
                    db, drop = pg_database(args.pg)
                except Exception as exc:  # no server: say so, skip the part
                    result["postgresql"] = f"skipped: {exc}"
                    break
                try:
                    api, fixtures = start_api(tmp, db, workers, (f"api.debtors={2 * PG_CASES}",))
                    try:
                        result[f"postgresql_{workers}_workers"] = measure_api(
                            fixtures,
                            args.duration,
                            args.connections * workers,
                            tmp,
                            False,
                            hello_rps,
                            PG_CASES,
                        )
                    finally:
                        api.stop()
                finally:
                    drop()
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
