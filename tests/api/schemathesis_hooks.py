"""Schemathesis hooks for the contract test: every control sent gets a fresh
Idempotency-Key, as a real client's does (a valid key sent twice with two bodies would be
refused as reused, rightly). Invalid keys, generated to be refused, are left alone, and so
is a request sent without one."""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis

KEY = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    for headers in (case.headers, kwargs.get("headers")):
        if headers and KEY.fullmatch(str(headers.get("Idempotency-Key", ""))):
            headers["Idempotency-Key"] = uuid.uuid4().hex
