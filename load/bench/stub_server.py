"""A small stand-in for the query API, for tests and benchmarks of the load generator.

It speaks just enough of the API's contract (``chakong serve``) for the court flows to run:
cases (listing their controls), queries answered at once, controls decided at once (as the
API's ``controls = "instant"``, readable at ``GET /v1/controls/{id}``) with the
provident-fund cap and idempotency keys, reconcile and audit verify; every answer waits
``--delay`` seconds, and ``--stall-for S --stall-after N`` holds *every* answer from the
arrival of the N-th request until S seconds later (a global stall, such as a long garbage
collection or a lock), so tests can see what the generator makes of it. The stall is placed
by a count of requests, not by a time, so it falls at the same point of an open workload
however long the generator took to start. ``--break-cap``
accepts over-cap deductions (a deliberately wrong server, for the violation checks);
``--pending`` never answers a query (nothing to freeze: the mix cannot be kept).

It is an asyncio server with plain HTTP/1.1 keep-alive (no framework: it must answer far
faster than the generator can send, on one core), and writes fixtures like the real API::

    python -m load.bench.stub_server --port 0 --delay 0.05 --fixtures-out fixtures.json

It prints ``listening on http://127.0.0.1:PORT`` once ready. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
from pathlib import Path
from typing import Any

CAP_FEN = 5_000_000  # 50,000 yuan a year
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 401: "Unauthorized", 404: "Not Found",
           409: "Conflict", 422: "Unprocessable Entity"}  # fmt: skip


class StubApi:
    def __init__(
        self,
        delay: float,
        stall_after: int | None,
        stall_for: float,
        break_cap: bool,
        pending: bool = False,
    ):
        self.delay = delay
        self.stall_after = stall_after
        self.stall_for = stall_for
        self.stall_start: float | None = None  # when the N-th request arrived
        self.break_cap = break_cap
        self.pending = pending  # queries are never answered
        self.ids = itertools.count(1)
        self.cases: dict[str, dict[str, Any]] = {}
        self.queries: dict[str, str] = {}
        self.frozen: dict[tuple[str, str], int] = {}  # (case, asset) -> balance
        self.keys: dict[str, tuple[int, dict[str, Any]]] = {}
        self.controls: dict[str, dict[str, Any]] = {}
        self.requests = 0

    # ------------------------------------------------------------ timing

    async def hold(self) -> None:
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        start = self.stall_start
        if start is not None:
            now = time.perf_counter()
            if now < start + self.stall_for:
                await asyncio.sleep(start + self.stall_for - now)

    # ------------------------------------------------------------ routes

    def route(self, method: str, path: str, body: dict[str, Any], key: str | None):
        if path == "/healthz":
            return 200, {"status": "ok"}
        if path == "/v1/admin/reconcile":
            return 200, {"ok": True, "cases": len(self.cases)}
        if path == "/v1/admin/audit/verify":
            return 200, {"ok": True, "entries": self.requests}
        if method == "POST" and path == "/v1/cases":
            case_id = f"C{next(self.ids)}"
            self.cases[case_id] = {"debtor_id": body["debtor_id"], "recovered_fen": 0,
                                   "controls": []}  # fmt: skip
            return 201, {"case_id": case_id}
        if method == "POST" and path == "/v1/queries":
            query_id = f"Q{next(self.ids)}"
            self.queries[query_id] = body["case_id"]
            return 202, {"query_id": query_id}
        if method == "GET" and path.startswith("/v1/queries/"):
            case_id = self.queries.get(path.rsplit("/", 1)[-1])
            if case_id is None:
                return 404, {"code": "not_found"}
            if self.pending:
                return 200, {"status": "pending", "findings": []}
            findings = [
                {"asset_id": f"{case_id}-1", "asset_type": "bank_deposit", "agency": "bank",
                 "channel": "central", "balance_fen": 800_000},
                {"asset_id": f"{case_id}-2", "asset_type": "provident_fund",
                 "agency": "provident_fund_centre", "channel": "central",
                 "balance_fen": 2 * CAP_FEN},
            ]  # fmt: skip
            return 200, {"status": "answered", "findings": findings}
        if method == "GET" and path.startswith("/v1/cases/"):
            case = self.cases.get(path.rsplit("/", 1)[-1])
            return (200, case) if case else (404, {"code": "not_found"})
        if method == "GET" and path.startswith("/v1/controls/"):
            control = self.controls.get(path.rsplit("/", 1)[-1])
            return (200, control) if control else (404, {"code": "not_found"})
        if method == "POST" and path == "/v1/controls":
            if key in self.keys:
                return self.keys[key]
            answer = self.control(body)
            if key:
                self.keys[key] = answer
            return answer
        return 404, {"code": "not_found"}

    def control(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A control decided at once, listed in its case (refusals too, with their id)."""
        case = self.cases[body["case_id"]]
        status, answer = self.decide(body)
        control_id = f"K{next(self.ids)}"
        answer = {"control_id": control_id, **answer}
        self.controls[control_id] = {"control_id": control_id, "status": "done" if status == 201
                                     else "refused", **answer}  # fmt: skip
        case["controls"].append({"control_id": control_id,
                                 "status": self.controls[control_id]["status"]})  # fmt: skip
        if status == 201 and body["action"] == "deduct":
            case["recovered_fen"] += int(body.get("amount_fen") or 0)
        return status, answer

    def decide(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        hold = (body["case_id"], body["asset_id"])
        action = body["action"]
        control = {"outcome": "done"}
        if action == "freeze":
            self.frozen.setdefault(hold, CAP_FEN * 2 if hold[1].endswith("-2") else 800_000)
            return 201, control
        if hold not in self.frozen:
            return 409, {"code": "not_frozen"}
        if action == "unfreeze":
            del self.frozen[hold]
        elif action == "deduct":
            amount = int(body.get("amount_fen") or 0)
            if hold[1].endswith("-2") and amount > CAP_FEN and not self.break_cap:
                return 409, {"code": "cap_exceeded"}
            if amount > self.frozen[hold]:
                return 409, {"code": "insufficient_balance"}
            self.frozen[hold] -= amount
        return 201, control

    # ------------------------------------------------------------ HTTP

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(length) if length else b""
                self.requests += 1
                if self.requests == self.stall_after:
                    self.stall_start = time.perf_counter()  # the stall begins
                await self.hold()
                if not headers.get("authorization", "").startswith("Bearer "):
                    status, answer = 401, {"code": "unauthorized"}
                else:
                    try:
                        body = json.loads(raw) if raw else {}
                        status, answer = self.route(
                            method, target.split("?")[0], body, headers.get("idempotency-key")
                        )
                    except (ValueError, KeyError, TypeError):
                        status, answer = 422, {"code": "invalid"}
                payload = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                    "Connection: keep-alive\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def fixtures(base_url: str, regions: list[str], courts: int, debtors: int) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "admin_token": "admin-stub",
        "courts": {
            f"{r}-{k}": {"token": f"court-{r}-{k}", "region": r}
            for r in regions
            for k in range(1, courts + 1)
        },
        "debtors": [
            {"debtor_id": f"D{i:06d}", "region": regions[i % len(regions)]} for i in range(debtors)
        ],
    }


async def main_async(args: argparse.Namespace) -> None:
    api = StubApi(args.delay, args.stall_after, args.stall_for, args.break_cap, args.pending)
    server = await asyncio.start_server(api.serve_connection, "127.0.0.1", args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    if args.fixtures_out:
        data = fixtures(url, args.regions.split(","), 2, 200)
        Path(args.fixtures_out).write_text(json.dumps(data), encoding="utf-8")
    print(f"listening on {url}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m load.bench.stub_server", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    p.add_argument(
        "--stall-after", type=int, default=None, help="the stall begins at the N-th request"
    )
    p.add_argument("--stall-for", type=float, default=2.0, help="length of the stall, seconds")
    p.add_argument("--break-cap", action="store_true", help="accept over-cap deductions")
    p.add_argument("--pending", action="store_true", help="never answer a query")
    p.add_argument("--regions", default="liaoning,hunan,chongqing")
    p.add_argument("--fixtures-out", default=None)
    args = p.parse_args()
    try:
        import uvloop  # the API's own event loop, when installed

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        run(main_async(args))


if __name__ == "__main__":
    main()
