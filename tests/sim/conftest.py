"""The simulation's tests run ``chakong`` in this process (:mod:`tests.sim.command`); only
tests/sim/test_console.py starts the real console script."""

from __future__ import annotations

import pytest

from tests.sim.command import invoke


@pytest.fixture
def cli():
    """``cli("run", FILE, ...)``: the command, in-process."""
    return invoke
