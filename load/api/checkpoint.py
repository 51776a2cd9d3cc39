"""Signed checkpoints of the audit chains' heads, kept outside the database.

A checkpoint lists, for every chain, the number and MAC of its last entry, and is signed
with an HMAC under the audit key. The server writes one to its state folder every second
and at shutdown (:class:`CheckpointFile`; one process at a time, never going back); ``GET
/v1/admin/audit/checkpoint`` hands one to an auditor, who keeps it. A verification holds
the database against a checkpoint: every entry it sealed must still be there with the same
MAC. So an insider who can write every table, but neither holds the key nor can reach every
copy of the checkpoint, cannot delete entries at the end of a chain, nor rewrite a chain
from some entry on, unnoticed. Entries written after the latest checkpoint (the last
second before a crash) are reported as not yet sealed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
from pathlib import Path
from typing import Any

from load.api.audit import SHARDS, Verification, utc_now

VERSION = 1


def _payload(heads: dict[str, list[Any]], at_utc: str) -> bytes:
    return json.dumps(
        {"version": VERSION, "at_utc": at_utc, "heads": heads},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def sign(key: bytes, heads: dict[int, tuple[int, str]]) -> dict[str, Any]:
    """A checkpoint of ``heads`` (shard -> (seq, mac)), signed now."""
    listed = {str(shard): [seq, mac] for shard, (seq, mac) in sorted(heads.items())}
    at = utc_now()
    signature = hmac.new(key, _payload(listed, at), hashlib.sha256).hexdigest()
    return {"version": VERSION, "at_utc": at, "heads": listed, "signature": signature}


def problems_with(key: bytes, checkpoint: Any) -> list[str]:
    """What is wrong with ``checkpoint`` itself (its form, its signature): [] if nothing."""
    if not isinstance(checkpoint, dict) or checkpoint.get("version") != VERSION:
        return ["the checkpoint is not a chakong audit checkpoint (version 1)"]
    heads, at, signature = (checkpoint.get(k) for k in ("heads", "at_utc", "signature"))
    if not isinstance(heads, dict) or not isinstance(at, str) or not isinstance(signature, str):
        return ["the checkpoint lacks heads, at_utc or signature"]
    for shard, head in heads.items():
        ok = (
            re.fullmatch(r"[0-9]{1,3}", shard) is not None
            and int(shard) < SHARDS
            and isinstance(head, list)
            and len(head) == 2
            and isinstance(head[0], int)
            and isinstance(head[1], str)
        )
        if not ok:
            return [f"the checkpoint's head of chain {shard[:10]} is malformed"]
    expected = hmac.new(key, _payload(heads, at), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return ["the checkpoint's signature is wrong (made without the audit key, or altered)"]
    return []


def hold_against(v: Verification, checkpoint: dict[str, Any]) -> int:
    """Hold the verified chains against a (well-signed) checkpoint; the entries it seals."""
    sealed = 0
    for shard_text, (seq, mac) in checkpoint["heads"].items():
        shard = int(shard_text)
        macs = v.chained.get(shard, [])
        if seq == 0:
            continue
        if len(macs) < seq:
            v.problem(
                f"{shard}:{len(macs) + 1}",
                f"chain {shard}: the checkpoint of {checkpoint['at_utc']} sealed {seq} entries, "
                f"{len(macs)} verify",
            )
        elif not hmac.compare_digest(macs[seq - 1].encode(), mac.encode()):
            v.problem(
                f"{shard}:{seq}",
                f"chain {shard}: entry {seq} is not the one the checkpoint of "
                f"{checkpoint['at_utc']} sealed",
            )
        else:
            sealed += seq
    return sealed


class CheckpointFile:
    """The server's own copy, in its state folder: replaced atomically, by one process at
    a time (an advisory lock on a file beside it), and only by a checkpoint no chain of
    which is behind the one it replaces."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")

    def read(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"version": None}  # unreadable: verification says so
        return data

    def write(self, checkpoint: dict[str, Any]) -> bool:
        """Replace the file with ``checkpoint`` unless another process is writing or the
        file is ahead of it; whether it was written."""
        with contextlib.ExitStack() as stack:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            stack.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            current = self.read()
            if current is not None and isinstance(current.get("heads"), dict):
                for shard, head in current["heads"].items():
                    new = checkpoint["heads"].get(shard)
                    if isinstance(head, list) and head and (new is None or new[0] < head[0]):
                        return False
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(checkpoint, indent=1) + "\n")
            tmp.replace(self.path)
            return True
