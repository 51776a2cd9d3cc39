"""A case: one matter (a new case, a restored one, or an objection) as it moves on.

A record, and the clock's timer of its own waits (:class:`sim.model.clock.Timer`): what
moves it at each is in :mod:`sim.model.lifecycle` (which extends it), the world that files
and closes it in :mod:`sim.model.world`. A matter that waits for its officer, for the
answers to its query, for its court's office hours or for its closing work is scheduled as
itself, not as a timer object beside it: one object a wait fewer to make, touch after days
or months, and free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from sim.model.clock import Timer
from sim.model.debtors import Asset
from sim.model.freeze import Hold
from sim.model.officers import Court
from sim.model.region import RegionRuntime

# what a matter waits for as its own timer (Case.stage)
FOR_OFFICER: Final = 0  # an officer to take it (booked in filing order)
FOR_STINT_END: Final = 1  # the end of its officer's first stint
FOR_ANSWERS: Final = 2  # the last answer to its query
FOR_CLOSING: Final = 3  # on the closing shelf: the time to book its closing work
FOR_OFFICE_HOURS: Final = 4  # its court's office hours, to order its first controls


@dataclass(slots=True, init=False)  # its __init__ below, compiled (a dataclass's is Python)
class Case(Timer):
    """One matter and what has happened to it so far."""

    case_id: int
    region: RegionRuntime
    court: Court
    filed: float
    claim: float
    assets: tuple[Asset, ...]
    matter: str  # "new", "restored" or "objection"
    debtor_id: int
    work: float  # the officer's first stint, in working days
    pays_after: float  # credit punishment: days from restrictions to payment
    pays_share: float  # ...of what is then still owed (below 1: part payment)
    objects: bool  # draws an objection (a matter of its own)
    pays_in_pool: bool  # restored because the debtor paid while in the 终本 pool
    seed: int  # keys the case's own draws after its query (records, controls, sales,
    # payouts, renewals), drawn at filing: the same case draws the same in every scenario
    officer_start: float
    closed: float
    outcome: str
    recovered: float
    last_disbursed: float
    found: int
    queries: int
    reworks: int
    # what the matter waits for as its own timer (lifecycle's stages), and on the closing
    # shelf: the holds it keeps there and its officer's closing work (working days)
    stage: int
    kept: tuple[Hold, ...]
    closing_work: float

    def __init__(
        self,
        case_id: int,
        region: RegionRuntime,
        court: Court,
        filed: float,
        claim: float,
        assets: tuple[Asset, ...],
        matter: str = "new",
        debtor_id: int = -1,
        work: float = 0.0,
        pays_after: float = math.inf,
        pays_share: float = 1.0,
        objects: bool = False,
        pays_in_pool: bool = False,
        seed: int = 0,
        officer_start: float = math.nan,
        closed: float = math.nan,
        outcome: str = "",
        recovered: float = 0.0,
        last_disbursed: float = math.nan,
        found: int = 0,
        queries: int = 0,
        reworks: int = 0,
    ) -> None:
        self.case_id = case_id
        self.region = region
        self.court = court
        self.filed = filed
        self.claim = claim
        self.assets = assets
        self.matter = matter
        self.debtor_id = debtor_id
        self.work = work
        self.pays_after = pays_after
        self.pays_share = pays_share
        self.objects = objects
        self.pays_in_pool = pays_in_pool
        self.seed = seed
        self.officer_start = officer_start
        self.closed = closed
        self.outcome = outcome
        self.recovered = recovered
        self.last_disbursed = last_disbursed
        self.found = found
        self.queries = queries
        self.reworks = reworks
        self.stage = 0
        self.kept = ()
        self.closing_work = 0.0

    def fire(self) -> None:
        """The matter's wait is over (:mod:`sim.model.lifecycle` moves it on)."""
        raise NotImplementedError
