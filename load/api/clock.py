"""The API's own simulated clock, scaled from wall time, and moved forward on request.

One simulated day lasts ``time_scale`` seconds of wall time, counted from the moment the
world was created (kept in the database, so every worker, and a server restarted on the same
database, reads the same clock). ``POST /v1/admin/clock`` moves it forward: the offset is
kept in the database (for restarts) and in a small memory-mapped file every worker reads
(:class:`load.api.state.SharedClock`), so all workers move together.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from sim.model.calendar import CalendarYears


class ScaledClock:
    """Simulated time in days since ``start_date`` 00:00, running ``1/time_scale`` days a
    second of wall time from ``epoch`` (a Unix time) onwards, starting at ``start_day``,
    plus ``offset()`` days."""

    def __init__(
        self,
        start_date: dt.date,
        epoch: float,
        time_scale: float,
        start_day: float,
        offset: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.start = dt.datetime.combine(start_date, dt.time())
        self.epoch = epoch
        self.time_scale = time_scale
        self.start_day = start_day
        self.offset = offset
        self.years = CalendarYears(start_date, years=200)

    def now(self) -> float:
        return self.start_day + self.offset() + (time.time() - self.epoch) / self.time_scale

    def iso(self, t: float) -> str:
        """The simulated moment ``t`` as an ISO date-time (to the second)."""
        return (self.start + dt.timedelta(days=t)).isoformat(timespec="seconds")

    def year_of(self, t: float) -> int:
        return self.years.year_of(t)
