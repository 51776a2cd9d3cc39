"""chakong simulation: scenario files, SimPy model, statistics and reports.

The Python API (see :mod:`sim.api`) is available from here, loaded on first use so that
``import sim`` stays light::

    import sim
    base = sim.load("scenarios/baseline.toml", horizon_days=200, warmup_days=20)
    result = sim.simulate(base, replications=5)
"""

from __future__ import annotations

from typing import Any

from sim._version import __version__ as __version__

__all__ = [
    "RunResult",
    "calibrate",
    "compare",
    "fit",
    "load",
    "override",
    "report",
    "simulate",
    "sweep",
    "toml_value",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sim import api

        return getattr(api, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
