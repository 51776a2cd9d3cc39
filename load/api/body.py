"""Request bodies: how big, how fast, what type, and strict JSON, checked once for every route.

- :class:`BodyLimit` wraps the whole application: a declared ``Content-Length`` over the
  limit is answered 413 before anything reads the body; a body sent without one (chunked)
  is counted as it arrives and the reader fails with the same 413; a body that has not
  arrived whole :data:`BODY_SECONDS` after the request began fails its reader with
  :class:`BodyTimeout` (408 ``body_timeout``): a slow client cannot hold a connection.
- :func:`is_json`: the one content-type check (``application/json``, parameters allowed).
- :func:`parse_json`: JSON as RFC 8259 writes it, stricter than :func:`json.loads`: no
  ``NaN`` or ``Infinity``, no duplicate keys, at most :data:`MAX_DEPTH` levels of nesting
  (a deeply nested body is refused before the parser recurses), numbers with a fraction or
  an exponent as exact :class:`~decimal.Decimal` (so ``99.99999999999999999`` is not 100
  and ``1e999999999`` is never expanded), integers of more than
  :data:`load.api.models.MAX_DIGITS` digits kept as a Decimal that no integer field takes.

The routes (:mod:`load.api.routing`) and the fast path (:mod:`load.api.fastpath`) call
these same functions.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from load.api.errors import ApiError
from load.api.models import MAX_DIGITS

MAX_BODY_BYTES = 16 * 1024
MAX_DEPTH = 32  # levels of arrays and objects; every request body here has one
BODY_SECONDS = 10.0


class BodyTimeout(Exception):
    """The body did not arrive whole in time."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the body did not arrive within {seconds:g} s of the request")


def is_json(content_type: str | bytes | None) -> bool:
    """``application/json``, with any parameters (``; charset=utf-8``), in any case."""
    if content_type is None:
        return False
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def malformed(detail: str) -> ApiError:
    return ApiError(400, "malformed_json", f"the body is not valid JSON: {detail}")


def _no_constant(name: str) -> Any:
    raise malformed(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise malformed(f"the key '{key[:40]}' appears twice in one object")
            seen.add(key)
    return out


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text) <= MAX_DIGITS else Decimal(text)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:  # not reachable from the JSON grammar, kept as a guard
        raise malformed(f"the number {text[:40]}") from None


def depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in ``raw`` (brackets inside strings not counted)."""
    deepest = level = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            level += 1
            deepest = max(deepest, level)
        elif byte in (0x5D, 0x7D):
            level -= 1
    return deepest


def parse_json(raw: bytes) -> Any:
    """The body as JSON, strictly (see the module's docstring); a 400 ``malformed_json``
    :class:`ApiError` saying what is wrong otherwise."""
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and depth(raw) > MAX_DEPTH:
        raise malformed(f"arrays and objects nest more than {MAX_DEPTH} levels deep")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise malformed(f"not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_float=_decimal,
            parse_int=_integer,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise malformed(f"{exc.msg} (at character {exc.pos})") from None


class BodyLimit:
    """Bodies over ``limit`` bytes get a JSON 413. A declared ``Content-Length`` over the limit
    is answered before anything reads the body; a body sent without one (chunked) is counted
    as it arrives, and the route reading it fails with the same 413. (FastAPI's own
    ``max_body_size`` answers in plain text and adds three middleware layers to every
    request.)"""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, seconds: float = BODY_SECONDS
    ) -> None:
        self.app = app
        self.limit = limit
        self.seconds = seconds
        # The requests reading a body, with their deadlines: one watchdog timer for them all
        # (a timeout around every read would cost more than the read).
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._late: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.TimerHandle | None = None

    def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, deadline in list(self._reading.items()):
            if now >= deadline:
                del self._reading[task]
                self._late.add(task)
                task.cancel()  # the read it waits in ends in BodyTimeout (limited below)
        self._watchdog = None
        if self._reading:
            self._watchdog = loop.call_later(min(0.25, self.seconds / 4), self._watch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if length.isdigit() and int(length) > self.limit:
                body = {"code": "body_too_large", "detail": self._detail(int(length))}
                await JSONResponse(body, status_code=413)(scope, receive, send)
                return
            if length == b"0":
                await self.app(scope, receive, send)
                return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        seen = 0
        whole = False
        reader: asyncio.Task[Any] | None = None

        async def limited() -> Message:
            nonlocal seen, whole, reader
            if whole:  # afterwards: waiting for a disconnect, which takes its time
                return await receive()
            if reader is None:
                reader = asyncio.current_task()
                assert reader is not None
                self._reading[reader] = deadline
                if self._watchdog is None:
                    self._watchdog = loop.call_later(min(0.25, self.seconds / 4), self._watch)
            try:
                message = await receive()
            except asyncio.CancelledError:
                if reader in self._late:
                    self._late.discard(reader)
                    reader.uncancel()
                    raise BodyTimeout(self.seconds) from None
                raise
            seen += len(message.get("body", b""))
            if seen > self.limit:  # only without a Content-Length: the server reads no
                raise StarletteHTTPException(413, self._detail(seen))  # more than declared
            if not message.get("more_body", False):
                whole = True
                self._reading.pop(reader, None)
            return message

        try:
            await self.app(scope, limited, send)
        finally:
            if reader is not None:
                self._reading.pop(reader, None)
                self._late.discard(reader)

    def _detail(self, size: int) -> str:
        return f"the body is {size} bytes or more; at most {self.limit} are taken"


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that gives it again, then what follows."""
    chunks = []
    first: Message | None = None
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: the app sees it too
            first = message
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if first is None:
        first = {"type": "http.request", "body": body, "more_body": False}

    async def replay() -> Message:
        nonlocal first
        if first is not None:
            message, first = first, None
            return message
        return await receive()

    return body, replay
