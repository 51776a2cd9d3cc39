"""Court time, read from a results folder's event log: do court-side events keep the
court's calendar, and do closings spread over days (or pile up on one)?

:func:`court_time` gives, for filings, online and in-person controls, deductions and
disbursements, the share that falls on a working day in the office hours of the case's
court (the region's calendar with the scenario's holidays), and the largest share of a
replication's closings that fall on one calendar day. Events in the warm-up are left out.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sim.model.calendar import WorkingTime
from sim.scenario.holidays import load_holidays
from sim.scenario.schema import WorkingCalendar

COURT_EVENTS = ("filed", "restored", "freeze", "deduct", "disbursed", "closed")


def court_time(folder: Path) -> dict[str, Any]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    scenario = manifest["scenario"]["resolved"]
    start = dt.date.fromisoformat(scenario["start_date"])
    holidays = load_holidays(scenario.get("holidays", "none"))
    calendars = {
        name: WorkingTime(WorkingCalendar.model_validate(r["calendar"]), start, holidays)
        for name, r in scenario["regions"].items()
    }
    warmup, horizon = float(scenario["warmup_days"]), float(scenario["horizon_days"])
    inside: Counter[str] = Counter()
    total: Counter[str] = Counter()
    closings: dict[str, Counter[int]] = defaultdict(Counter)
    with (folder / "events.csv").open(encoding="utf-8") as fh:
        for e in csv.DictReader(fh):
            event = e["event"]
            if event not in COURT_EVENTS:
                continue
            t = float(e["time_days"])
            if not warmup <= t < horizon:
                continue
            total[event] += 1
            if calendars[e["region"]].is_open(t):
                inside[event] += 1
            if event == "closed":
                closings[e["replication"]][math.floor(t)] += 1
    busiest = max(
        (max(days.values()) / sum(days.values()) for days in closings.values()), default=0.0
    )
    return {
        "in_office_hours": {k: inside[k] / total[k] for k in COURT_EVENTS if total[k]},
        "events": dict(total),
        "closings_busiest_day_share": busiest,
    }
