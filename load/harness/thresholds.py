"""Thresholds, k6-like: ``NAME: METRIC OP VALUE [abort]``, checked before and after a run.

``NAME`` is a logical request (:mod:`load.target.logical`), the statistics name an adapter
gives one (``POST /v1/controls freeze``), or ``all``; ``METRIC`` is one of

- ``p50`` ``p90`` ``p95`` ``p99`` ``p999`` ``max``: latency from the actual send, ms;
- ``corrected_p50`` .. ``corrected_max``: from the intended send (coordinated omission), ms;
- ``error_rate``: errors over requests answered or unfinished;
- ``achieved_rate``: successful requests answered inside the window, per second;

``OP`` is ``<``, ``<=``, ``>`` or ``>=``; a trailing ``abort`` stops the run as soon as the
threshold fails on the figures so far (after the warm-up). The scenario's ``[load.slo]``
``p99_ms`` entries are shorthand for ``NAME: corrected_p99 < MS``; ``error_rate_max`` for
``all: error_rate <= X``. A request with nothing measured fails its thresholds, unless the
plan expected fewer than five of it (then the check says it was not judged). Every
threshold is parsed and its name checked against the adapter before anything runs: a typo
is exit 2 naming the flag or field.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from load.target import logical as lr
from load.target.adapter import Adapter
from sim.errors import UserError
from sim.scenario.load_settings import Slo

LATENCY = ("p50", "p90", "p95", "p99", "p999", "max")
METRICS = (*LATENCY, *(f"corrected_{p}" for p in LATENCY), "error_rate", "achieved_rate")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SYNTAX = re.compile(
    r"\s*(?P<name>[^:]+?)\s*:\s*(?P<metric>[a-z_0-9]+)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<value>[-+0-9.eE]+)\s*(?P<abort>abort)?\s*"
)


@dataclass(frozen=True)
class Threshold:
    name: str  # a logical request or "all"
    metric: str
    op: str
    value: float
    abort: bool = False
    source: str = ""  # where it was declared, for messages

    @property
    def text(self) -> str:
        return f"{self.name}: {self.metric} {self.op} {self.value:g}" + (
            " abort" if self.abort else ""
        )

    def holds(self, measured: float | None) -> bool:
        return measured is not None and OPS[self.op](measured, self.value)


def _resolve(name: str, adapter: Adapter, where: str) -> str:
    if name == lr.ALL or name in lr.LOGICAL:
        if name != lr.ALL and not adapter.supports(name):
            raise UserError(f"{where}: the adapter '{adapter.name}' has no request '{name}'")
        return name
    by_stat = [k for k in adapter.requests if adapter.stat_name(k) == name]
    if len(by_stat) == 1:
        return by_stat[0]
    known = ", ".join([*(k for k in lr.LOGICAL if adapter.supports(k)), lr.ALL])
    raise UserError(f"{where}: unknown request '{name}' (one of {known})")


def parse(text: str, adapter: Adapter, where: str) -> Threshold:
    """One threshold from its text; ``where`` names the flag or field in messages."""
    m = _SYNTAX.fullmatch(text)
    if not m:
        raise UserError(
            f"{where}: '{text}' is not a threshold (expected 'NAME: METRIC OP VALUE [abort]', "
            "e.g. 'freeze: corrected_p99 < 500')"
        )
    metric = m["metric"]
    if metric not in METRICS:
        raise UserError(f"{where}: unknown metric '{metric}' (one of {', '.join(METRICS)})")
    try:
        value = float(m["value"])
    except ValueError:
        raise UserError(f"{where}: '{m['value']}' is not a number") from None
    name = _resolve(m["name"], adapter, where)
    return Threshold(name, metric, m["op"], value, bool(m["abort"]), where)


def collect(slo: Slo, flags: Iterable[str], adapter: Adapter) -> list[Threshold]:
    """Every threshold of a run, from the scenario's ``[load.slo]`` and ``--threshold``."""
    out = []
    for name, bound in slo.p99_ms.items():
        where = f"[load.slo] p99_ms.{name}"
        out.append(
            Threshold(_resolve(name, adapter, where), "corrected_p99", "<", bound, source=where)
        )
    out.append(
        Threshold(
            lr.ALL, "error_rate", "<=", slo.error_rate_max, source="[load.slo] error_rate_max"
        )
    )
    out += [parse(t, adapter, f"[load.slo] thresholds[{i}]") for i, t in enumerate(slo.thresholds)]
    out += [parse(t, adapter, f"--threshold '{t}'") for t in flags]
    return out


def measure(t: Threshold, figures: dict[str, Any]) -> float | None:
    """The figure a threshold reads from a summary's ``by_name`` entry (or ``all``)."""
    entry = figures.get(t.name)
    if entry is None:
        return None
    if t.metric.startswith("corrected_"):
        return entry["corrected_latency_ms"].get(t.metric.removeprefix("corrected_"))
    if t.metric in LATENCY:
        return entry["latency_ms"].get(t.metric)
    return entry.get(t.metric)


def evaluate(thresholds: Iterable[Threshold], figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each threshold's check: its text, the value measured, whether it passed."""
    checks = []
    for t in thresholds:
        value = measure(t, figures)
        checks.append(
            {
                "check": t.text,
                "kind": "threshold",
                "value": _round(value),
                "limit": t.value,
                "passed": t.holds(value),
                "abort": t.abort,
                "source": t.source,
            }
        )
    return checks


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 6)
