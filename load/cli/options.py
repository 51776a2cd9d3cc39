"""Flag parsers shared by the load half's subcommands (``chakong load``, ``chakong serve``).

Each turns one flag's text into a value or raises :class:`argparse.ArgumentTypeError` with
what was expected, so argparse prints ``chakong load: error: argument --rate: ...`` and
exits 2. The integer parsers are the simulation's own (``sim.cli``).
"""

from __future__ import annotations

import argparse
import re

from sim.cli.options import non_negative_int, positive_int

__all__ = [
    "duration",
    "non_negative_int",
    "port_number",
    "positive_float",
    "positive_int",
    "share",
]

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None


def positive_float(text: str) -> float:
    """A finite number above zero."""
    value = _number(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def share(text: str) -> float:
    """A number in [0, 1]."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def duration(text: str) -> float:
    """``30s``, ``2m``, ``1h`` or plain seconds, above zero."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 30s, 2m or 1h, got '{text}'")
    return float(m.group(1)) * _UNITS[m.group(2)]


def port_number(text: str) -> int:
    """A TCP port, 0..65535 (0: any free port)."""
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {value}")
    return value
