"""A case: one matter (a new case, a restored one, or an objection) as it moves on.

A plain record; the process that moves it is in :mod:`sim.model.lifecycle`, the world that
files and closes it in :mod:`sim.model.world`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.model.debtors import Asset
from sim.model.officers import Court
from sim.model.region import RegionRuntime


@dataclass(slots=True)
class Case:
    """One matter and what has happened to it so far."""

    case_id: int
    region: RegionRuntime
    court: Court
    filed: float
    claim: float
    assets: tuple[Asset, ...]
    matter: str = "new"  # "new", "restored" or "objection"
    debtor_id: int = -1
    work: float = 0.0  # the officer's first stint, in working days
    pays_after: float = math.inf  # credit punishment: days from restrictions to payment
    pays_share: float = 1.0  # ...of what is then still owed (below 1: part payment)
    objects: bool = False  # draws an objection (a matter of its own)
    pays_in_pool: bool = False  # restored because the debtor paid while in the 终本 pool
    seed: int = 0  # keys the case's own draws after its query (records, controls, sales,
    # payouts, renewals), drawn at filing: the same case draws the same in every scenario
    officer_start: float = math.nan
    closed: float = math.nan
    outcome: str = ""
    recovered: float = 0.0
    last_disbursed: float = math.nan
    found: int = 0
    queries: int = 0
    reworks: int = 0
