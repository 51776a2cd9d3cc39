"""A sweep's inputs and design: which scenario fields vary, over what, at which points.

``--vary PATH=LOW:HIGH`` names a numeric field (a ``--set`` path) and its range; a whole
number field (e.g. ``officers``) takes whole values only, and the scenario must be valid
at both ends. The design comes from :mod:`scipy.stats.qmc`, drawn from the run's seed:

- ``lhs``: a Latin hypercube of ``--samples`` points (default 8);
- ``sobol``: Saltelli's A, B and AB matrices from a scrambled Sobol' sequence with
  ``--samples`` base points (a power of 2, default 8), ``samples x (inputs + 2)`` points in
  all, which give Sobol' indices (:func:`sim.study.sensitivity.sobol`);
- ``grid``: every combination of ``k`` evenly spaced levels per input (``--samples`` must be
  ``k`` to the power of the number of inputs; default 3 levels).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from sim.errors import UserError
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.loader import apply_overrides, read_with_extends

DESIGNS = ("lhs", "sobol", "grid")


@dataclass(frozen=True)
class Vary:
    """One input of a sweep: a scenario field and its range."""

    path: str
    low: float
    high: float
    integer: bool = False
    text: str = ""  # as the user wrote it

    def value(self, u: float, grid: bool = False) -> float | int:
        """The input at ``u`` in [0, 1]: uniform over the range, or over its whole
        numbers (a grid keeps the ends)."""
        if not self.integer:
            return float(self.low + u * (self.high - self.low))
        lo, hi = int(self.low), int(self.high)
        if grid:
            return lo + round(u * (hi - lo))
        return min(hi, lo + math.floor(u * (hi - lo + 1)))

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "low": self.low, "high": self.high, "integer": self.integer}


def parse_vary(text: str) -> tuple[str, float, float]:
    """``"PATH=LOW:HIGH"`` -> (path, low, high), or a one-line error naming the flag."""
    flag = f"--vary {text}"
    path, eq, span = text.partition("=")
    path = path.strip()
    if not eq:
        raise UserError(f"{flag}: expected PATH=LOW:HIGH, e.g. regions.hunan.officers=10:20")
    if not path or any(not part for part in path.split(".")):
        raise UserError(f"{flag}: the path '{path}' is empty or has an empty part")
    if span.count(":") != 1:
        raise UserError(f"{flag}: expected LOW:HIGH after '=', e.g. {path}=10:20")
    bounds = []
    for name, part in zip(("LOW", "HIGH"), span.split(":"), strict=True):
        try:
            value = float(part)
        except ValueError:
            raise UserError(f"{flag}: {name} '{part.strip()}' is not a number") from None
        if not math.isfinite(value):
            raise UserError(f"{flag}: {name} must be a finite number")
        bounds.append(value)
    low, high = bounds
    if low >= high:
        raise UserError(f"{flag}: LOW ({low:g}) must be less than HIGH ({high:g})")
    return path, low, high


def _lookup(data: Any, parts: list[str]) -> tuple[bool, Any]:
    node = data
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _field_value(file: Path, overrides: Sequence[str], path: str) -> tuple[bool, Any]:
    """The field's value, typed by the schema where possible (a resolved float stays a
    float even when the file wrote ``12``)."""
    resolved = load_scenario(file, overrides).resolved()
    parts = path.split(".")
    found, value = _lookup(resolved, parts)
    if found:
        return True, value
    if parts[0] == "region_defaults":  # typed like the same field of any region
        for region in resolved.get("regions", {}).values():
            found, value = _lookup(region, parts[1:])
            if found:
                return True, value
    data = apply_overrides(read_with_extends(file)[0], overrides)
    return _lookup(data, parts)


def resolve_varies(file: Path, overrides: Sequence[str], texts: Sequence[str]) -> list[Vary]:
    """Parse ``--vary`` flags and check them against the scenario: the field exists and is
    a number, whole numbers stay whole, and the scenario is valid at both ends."""
    if not texts:
        raise UserError("sweep: give at least one --vary PATH=LOW:HIGH")
    inputs = []
    for text in texts:
        path, low, high = parse_vary(text)
        inputs.append((path, low, high, f"--vary {text}", text))
    return check_inputs(file, overrides, inputs, "--vary")


def check_inputs(
    file: Path,
    overrides: Sequence[str],
    inputs: Sequence[tuple[str, float, float, str, str]],
    source: str,
    *,
    whole: bool = True,
) -> list[Vary]:
    """Check inputs ``(path, low, high, where, text)`` against the scenario: the field exists and
    is a number, given once, whole numbers stay whole (or, ``whole=False``, are refused),
    and the scenario is valid with every input at its low and at its high. ``where``
    starts each message; ``source`` (``--vary``, ``[fit]``) names them all."""
    varies: list[Vary] = []
    for path, low, high, where, text in inputs:
        if any(v.path == path for v in varies):
            raise UserError(f"{where}: {path} is given twice")
        found, value = _field_value(file, overrides, path)
        if not found:
            raise UserError(f"{where}: {file} has no field '{path}'")
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "a table" if isinstance(value, dict) else f"not a number ({value!r})"
            verb = "vary" if source == "--vary" else "fit"
            raise UserError(f"{where}: '{path}' is {kind}; {verb} a number")
        integer = isinstance(value, int)
        if integer and not whole:
            raise UserError(
                f"{where}: '{path}' is a whole number; a fit needs a continuous field "
                "(e.g. a factor or a mean)"
            )
        if integer and not (low.is_integer() and high.is_integer()):
            raise UserError(f"{where}: '{path}' is a whole number; give whole LOW and HIGH")
        varies.append(Vary(path, low, high, integer, text))
    for end in ("low", "high"):
        point = {v.path: v.value(0.0 if end == "low" else 1.0, grid=True) for v in varies}
        try:
            load_scenario(file, [*overrides, *point_overrides(point)])
        except ScenarioError as exc:
            lines = [f"{line} (with every {source} at its {end.upper()})" for line in exc.problems]
            lines = [line.replace("(from --set ", f"(from {source} ") for line in lines]
            raise UserError(lines) from None
    return varies


def point_overrides(point: dict[str, float | int]) -> list[str]:
    return [f"{path}={value!r}" for path, value in point.items()]


# ---------------------------------------------------------------- designs


@dataclass
class Design:
    kind: str
    points: list[dict[str, float | int]]
    blocks: list[str]  # sobol: "A", "B", "AB1".."ABd"; else ""
    base: int  # sobol: base samples n


def make_design(kind: str, varies: Sequence[Vary], samples: int | None, seed: int) -> Design:
    d = len(varies)
    rng = np.random.default_rng(seed)
    if kind == "lhs":
        n = samples or 8
        if n < 2:
            raise UserError(f"--samples {n}: the lhs design needs at least 2 points")
        unit = qmc.LatinHypercube(d, rng=rng).random(n)
        return Design(kind, _values(unit, varies), [""] * n, n)
    if kind == "sobol":
        n = samples or 8
        if n < 2 or n & (n - 1):
            below = 2 ** max(1, int(math.log2(max(n, 2))))
            raise UserError(
                f"--samples {n}: the sobol design needs a power of 2 base points, e.g. "
                f"{below} or {2 * below}"
            )
        u = qmc.Sobol(2 * d, scramble=True, rng=rng).random(n)
        a, b = u[:, :d], u[:, d:]
        pages = [a, b]
        for i in range(d):
            ab = a.copy()
            ab[:, i] = b[:, i]
            pages.append(ab)
        blocks = ["A"] * n + ["B"] * n + [f"AB{i + 1}" for i in range(d) for _ in range(n)]
        return Design(kind, _values(np.vstack(pages), varies), blocks, n)
    if kind == "grid":
        k = round(samples ** (1 / d)) if samples else 3
        n = k**d
        if k < 2 or (samples and n != samples):
            raise UserError(
                f"--samples {samples}: a grid over {d} inputs needs k^{d} points "
                f"(k levels per input), e.g. {2**d} or {3**d}"
            )
        for v in varies:
            if v.integer and k > v.high - v.low + 1:
                raise UserError(
                    f"--samples {n}: {k} grid levels, but {v.path} has only "
                    f"{int(v.high - v.low + 1)} whole values in [{v.low:g}, {v.high:g}]"
                )
        levels = np.linspace(0, 1, k)
        unit = np.array(list(itertools.product(levels, repeat=d)))
        return Design(kind, _values(unit, varies, grid=True), [""] * n, n)
    raise UserError(f"--design {kind}: choose one of {', '.join(DESIGNS)}")


def _values(
    unit: np.ndarray, varies: Sequence[Vary], grid: bool = False
) -> list[dict[str, float | int]]:
    return [{v.path: v.value(float(u[j]), grid) for j, v in enumerate(varies)} for u in unit]
