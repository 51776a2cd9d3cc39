"""A tiny enforcement API that is *not* chakong's: other paths, fields, units and auth.

The example target of the README's "Writing an adapter" walk-through and of the adapter
tests: a court authenticates with ``X-Court-Key`` and signs each body (``X-Signature``,
the SHA-256 of the body and its key: what an adapter's hook adds); money is in yuan; ids
are strings with prefixes; every answer is wrapped in ``{"data": ...}``; a refusal is 422
``{"error": {"reason": ...}}``; there are no admin endpoints. Assets of a debtor are found
at once. Loopback only::

    python tests/load/foreign/server.py --fixtures-out fixtures.json

prints ``listening on http://127.0.0.1:PORT`` once ready.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REGIONS = ("liaoning", "hunan", "chongqing")
COURTS = {f"{r}-1": {"token": f"key-{r}", "region": r} for r in REGIONS}
KEYS = {c["token"]: cid for cid, c in COURTS.items()}
DEBTORS = [{"debtor_id": f"P{i:04d}", "region": REGIONS[i % 3]} for i in range(60)]


def signature(body: bytes, key: str) -> str:
    return hashlib.sha256(body + key.encode()).hexdigest()


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.matters: dict[str, dict[str, Any]] = {}
        self.searches: dict[str, str] = {}
        self.frozen: dict[tuple[str, str], float] = {}
        self.seen: dict[str, dict[str, Any]] = {}  # X-Request-Id -> answer


STATE = State()


def assets_of(debtor: str) -> list[dict[str, Any]]:
    n = int(debtor[1:])
    return [
        {"ref": f"{debtor}-ACC", "category": "DEPOSIT", "amountYuan": 8000.0 + n,
         "route": "CENTRAL"},
        {"ref": f"{debtor}-CAR", "category": "VEHICLE", "amountYuan": 50000.0, "route": "LOCAL"},
    ]  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def answer(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def refuse(self, reason: str) -> None:
        self.answer(422, {"error": {"reason": reason}})

    def do_GET(self) -> None:
        self.handle_any("GET")

    def do_POST(self) -> None:
        self.handle_any("POST")

    def handle_any(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("X-Court-Key", "")
        if key not in KEYS:
            return self.answer(401, {"error": {"reason": "UNKNOWN_COURT"}})
        if method == "POST" and self.headers.get("X-Signature") != signature(raw, key):
            return self.answer(401, {"error": {"reason": "BAD_SIGNATURE"}})
        body = json.loads(raw) if raw else {}
        with STATE.lock:
            self.route(method, self.path, body)

    def route(self, method: str, path: str, body: dict[str, Any]) -> None:
        s = STATE
        if method == "POST" and path == "/api/matters":
            no = f"M-{next(s.ids)}"
            s.matters[no] = {"debtor": body["debtor"], "amountYuan": body["amountYuan"],
                             "recoveredYuan": 0.0}  # fmt: skip
            return self.answer(200, {"data": {"matterNo": no}})
        if m := re.fullmatch(r"/api/matters/(M-\d+)", path):
            matter = s.matters.get(m[1])
            return self.answer(200, {"data": matter}) if matter else self.refuse("NO_MATTER")
        if method == "POST" and (m := re.fullmatch(r"/api/matters/(M-\d+)/searches", path)):
            if m[1] not in s.matters or body.get("route") not in ("CENTRAL", "LOCAL"):
                return self.refuse("BAD_SEARCH")
            no = f"S-{next(s.ids)}"
            s.searches[no] = m[1]
            return self.answer(200, {"data": {"searchNo": no}})
        if m := re.fullmatch(r"/api/searches/(S-\d+)", path):
            matter = s.searches.get(m[1])
            if matter is None:
                return self.refuse("NO_SEARCH")
            found = assets_of(s.matters[matter]["debtor"])
            return self.answer(200, {"data": {"state": "DONE", "assets": found}})
        m = re.fullmatch(r"/api/matters/(M-\d+)/assets/([\w-]+)/(freeze|deduct|release|renew)",
                         path)  # fmt: skip
        if method == "POST" and m:
            request_id = self.headers.get("X-Request-Id", "")
            if request_id in s.seen:
                return self.answer(200, s.seen[request_id])
            matter, ref, action = m[1], m[2], m[3]
            if matter not in s.matters:
                return self.refuse("NO_MATTER")
            hold = (matter, ref)
            if action == "freeze":
                if hold in s.frozen:
                    return self.refuse("ALREADY_FROZEN")
                asset = next((a for a in assets_of(s.matters[matter]["debtor"])
                              if a["ref"] == ref), None)  # fmt: skip
                if asset is None:
                    return self.answer(404, {"error": {"reason": "NO_ASSET"}})
                s.frozen[hold] = asset["amountYuan"]
            elif hold not in s.frozen:
                return self.refuse("NOT_FROZEN")
            elif action == "release":
                del s.frozen[hold]
            elif action == "deduct":
                amount = float(body.get("amountYuan") or 0)
                if amount > s.frozen[hold]:
                    return self.refuse("INSUFFICIENT")
                s.frozen[hold] -= amount
                s.matters[matter]["recoveredYuan"] += amount
            answer = {"data": {"actionNo": f"A-{next(s.ids)}", "heldYuan": s.frozen.get(hold, 0)}}
            if request_id:
                s.seen[request_id] = answer
            return self.answer(200, answer)
        return self.answer(404, {"error": {"reason": "NO_ROUTE"}})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fixtures-out")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    if args.fixtures_out:
        fixtures = {"base_url": url, "courts": COURTS, "debtors": DEBTORS}
        Path(args.fixtures_out).write_text(json.dumps(fixtures), encoding="utf-8")
    print(f"listening on {url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
