"""Refused requests in the audit log, counted rather than each written.

A request refused for want of a valid token (401), of the right kind of token (403), or
for an object the court may not see (404) is a refused authorisation: the audit log keeps
them, but a flood of them must not slow real controls by taking the database's write lock
once each. Each worker counts them in memory by (court, request, code) and writes one audit
entry per such key with its count every :data:`FLUSH_SECONDS` (and when it stops); an entry
of the audit log then reads "``court`` was refused ``code`` ``count`` times on ``request``".
"""

from __future__ import annotations

import threading
from collections import Counter

from load.api.audit import Batch, Entry
from load.api.world import World

FLUSH_SECONDS = 1.0


class Denials:
    def __init__(self, world: World) -> None:
        self.world = world
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def count(self, court: str, request: str, code: str) -> None:
        with self._lock:
            self._counts[(court, request, code)] += 1

    def flush(self) -> int:
        """Write what was counted since the last flush (in the caller's thread); how many
        refusals it wrote."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return 0
        now = self.world.clock.now()
        batch = Batch()
        for (court, request, code), n in sorted(counts.items()):
            batch.add(Entry(now, court, request, "-", f"denied:{code}", times=n))
        try:
            self.world.db.write_tx(lambda tx: batch.write(tx, self.world.audit_key))
        except Exception:
            with self._lock:  # keep them for the next flush
                self._counts.update(counts)
            raise
        return sum(counts.values())
