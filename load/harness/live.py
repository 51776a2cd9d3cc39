"""Watching a run as it goes: the progress line and abort-on-fail thresholds.

The Locust processes append each worker's completed intervals to ``live.jsonl`` in the
results folder (:mod:`load.generator.locustfile`). :class:`LiveMonitor` reads what is new
every tick, adds the workers' intervals up, prints one progress line on stderr (rewritten
in place on a terminal, every ten seconds otherwise) and judges the thresholds marked
``abort`` on each worker's latest figures after the warm-up by request (merged over the
workers); when one fails it writes ``abort`` into
the folder, which stops the clocks (the requests in flight still finish and are counted).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from load.generator.histograms import merge, new_histogram, percentiles_ms
from load.harness.thresholds import Threshold, measure

PRINT_EVERY_S = 10.0  # when stderr is not a terminal
MIN_COUNT = 20  # answers of a request before an abort threshold judges it


class LiveMonitor:
    def __init__(
        self,
        folder: Path,
        duration_s: float,
        warmup_s: float,
        interval_s: float,
        aborts: list[Threshold],
        show: bool,
        stream: TextIO | None = None,
    ) -> None:
        self.path = folder / "live.jsonl"
        self.abort_path = folder / "abort"
        self.duration_s, self.warmup_s, self.interval_s = duration_s, warmup_s, interval_s
        self.aborts = aborts
        self.show = show
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.offset = 0
        self.rows: dict[int, dict[str, Any]] = {}  # interval -> summed counts, histogram
        self.latest: dict[int, dict[str, Any]] = {}  # worker -> its figures by request so far
        self.aborted: dict[str, Any] | None = None
        self.last_print = 0.0
        self.width = 0

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("r", encoding="utf-8") as fh:
            fh.seek(self.offset)
            text = fh.read()
        complete = text[: text.rfind("\n") + 1]
        self.offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if "by_name" in data:
                self.latest[data["worker"]] = data
            for k, part in enumerate(data["intervals"]):
                i = data["first"] + k
                row = self.rows.setdefault(
                    i, {"offered": 0, "ok": 0, "errors": 0, "answered": 0, "hist": new_histogram()}
                )
                for key in ("offered", "ok", "errors", "answered"):
                    row[key] += part[key]
                row["hist"].add(merge([part["corrected"]]))

    def figures(self) -> dict[str, Any]:
        """What the intervals after the warm-up add up to so far."""
        first = int(self.warmup_s / self.interval_s + 0.999)
        rows = [r for i, r in self.rows.items() if i >= first]
        seconds = len(rows) * self.interval_s
        answered = sum(r["answered"] for r in rows)
        hist = merge([])
        for r in rows:
            hist.add(r["hist"])
        return {
            "seconds": seconds,
            "offered": sum(r["offered"] for r in rows) / seconds if seconds else 0.0,
            "achieved_rate": sum(r["ok"] for r in rows) / seconds if seconds else 0.0,
            "error_rate": sum(r["errors"] for r in rows) / answered if answered else 0.0,
            "corrected_latency_ms": percentiles_ms(hist),
            "count": answered,
        }

    def tick(self, elapsed: float | None) -> None:
        """``elapsed``: seconds since the clock started; None while the workers prime."""
        self._read()
        if elapsed is None:
            if self.show:
                self._print(None, None)
            return
        now = self.figures()
        if self.aborted is None and now["count"]:
            for t in self.aborts:
                value = self._value(t, now)
                if value is not None and not t.holds(value):
                    self.aborted = {"threshold": t.text, "value": value, "at_s": round(elapsed, 1)}
                    self.abort_path.write_text(json.dumps(self.aborted), encoding="utf-8")
                    break
        if self.show:
            self._print(elapsed, now)

    def by_name(self, name: str) -> dict[str, Any] | None:
        """A request's figures after the warm-up so far, over every worker that sent it."""
        parts = [w["by_name"][name] for w in self.latest.values() if name in w["by_name"]]
        if not parts:
            return None
        seconds = max((w["measured_s"] for w in self.latest.values()), default=0.0)
        answered = sum(p["answered"] for p in parts)
        return {
            "count": answered,
            "latency_ms": percentiles_ms(merge(p["latency"] for p in parts)),
            "corrected_latency_ms": percentiles_ms(merge(p["corrected"] for p in parts)),
            "error_rate": sum(p["errors"] for p in parts) / answered if answered else 0.0,
            "achieved_rate": sum(p["achieved"] for p in parts) / seconds if seconds else 0.0,
        }

    def _value(self, t: Threshold, now: dict[str, Any]) -> float | None:
        figures = self.by_name(t.name)
        if figures is None or figures["count"] < MIN_COUNT:
            return None  # too few answers yet to judge
        if t.metric == "achieved_rate" and t.op in (">", ">="):
            return None  # a rate still growing toward its bound: judged at the end
        return measure(t, {t.name: figures})

    def _print(self, elapsed: float | None, now: dict[str, Any] | None) -> None:
        if not self.tty and time.monotonic() - self.last_print < PRINT_EVERY_S:
            return
        self.last_print = time.monotonic()
        if elapsed is None or now is None:
            self._write("load: priming (filing and querying cases, freezing what is found)")
            return
        p99 = now["corrected_latency_ms"].get("p99")
        phase = "warm-up" if elapsed < self.warmup_s else "measuring"
        line = (
            f"load {min(elapsed, self.duration_s):5.0f}/{self.duration_s:g} s {phase}: offered "
            f"{now['offered']:.1f}/s, achieved {now['achieved_rate']:.1f}/s, errors "
            f"{100 * now['error_rate']:.2f}%, corrected p99 "
            f"{'-' if p99 is None else f'{p99:,.0f} ms'}"
        )
        if self.aborted:
            line += f"; ABORTING: {self.aborted['threshold']}"
        self._write(line)

    def _write(self, line: str) -> None:
        if self.tty:
            pad = max(0, self.width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.show and self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
