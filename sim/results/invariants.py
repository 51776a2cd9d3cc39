"""Invariants every run's event log must satisfy, checked from the results folder alone.

- no debtor's provident-fund deductions in one calendar year exceed the region's cap;
- no deduction or sale against a freeze that never held, had lapsed or was released;
- money disbursed to a case never exceeds its claim;
- every filed matter is closed, or still open at the end (and only then).

:func:`check_results` reads ``manifest.json`` (for the calendar and the caps),
``events.csv`` and ``cases.csv``, streaming the events, and returns one line per
violation (empty when all hold).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections import defaultdict
from pathlib import Path

from sim.model.calendar import CalendarYears

EPS = 0.005  # half a fen


def check_results(folder: Path, limit: int = 50) -> list[str]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    scenario = manifest["scenario"]["resolved"]
    years = CalendarYears(dt.date.fromisoformat(scenario["start_date"]))
    caps = {
        name: float(r["policy"]["provident_fund_annual_cap_yuan"])
        for name, r in scenario["regions"].items()
    }
    problems: list[str] = []

    def problem(text: str) -> None:
        if len(problems) < limit:
            problems.append(text)

    cases = {}
    with (folder / "cases.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cases[(row["replication"], row["case_id"])] = row

    fund: dict[tuple[str, str, int], float] = defaultdict(float)
    paid: dict[tuple[str, str], float] = defaultdict(float)
    # per (replication, case, asset): [held since, expires, ended at (lapse or release)]
    holds: dict[tuple[str, str, str], list[float]] = {}
    filed: set[tuple[str, str]] = set()
    closed: set[tuple[str, str]] = set()
    with (folder / "events.csv").open(encoding="utf-8") as fh:
        for e in csv.DictReader(fh):
            key = (e["replication"], e["case_id"])
            t = float(e["time_days"])
            event = e["event"]
            asset = (*key, e["asset_id"])
            if event in ("filed", "restored", "objection"):
                filed.add(key)
            elif event == "closed":
                closed.add(key)
            elif event in ("freeze", "freeze_waiting"):
                holds[asset] = [t, float(e["expires_days"]), math.inf]
            elif event == "freeze_renewed":
                h = holds.get(asset)
                if h is None:
                    problem(f"{_where(e)}: renewal of a freeze that never held")
                else:
                    h[1] = float(e["expires_days"])
            elif event in ("freeze_lapsed", "unfreeze"):
                h = holds.get(asset)
                if h is not None:
                    h[2] = min(h[2], t)
            elif event in ("deduct", "sale"):
                h = holds.get(asset)
                if h is None:
                    problem(f"{_where(e)}: {event} without a freeze")
                elif not h[0] <= t <= h[1] + 1e-6 or t > h[2] + 1e-6:
                    problem(
                        f"{_where(e)}: {event} at {t:g} against a freeze held {h[0]:g}.."
                        f"{min(h[1], h[2]):g}"
                    )
                if event == "deduct" and e["asset_type"] == "provident_fund":
                    year = years.year_of(t)
                    fkey = (e["replication"], e["debtor_id"], year)
                    fund[fkey] += float(e["amount_yuan"])
                    cap = caps.get(e["region"], math.inf)
                    if fund[fkey] > cap + EPS:
                        problem(
                            f"{_where(e)}: provident fund of debtor {e['debtor_id']} deducted "
                            f"{fund[fkey]:.2f} in {year}, over the cap {cap:g}"
                        )
            elif event == "disbursed":
                paid[key] += float(e["amount_yuan"])
    for key, amount in paid.items():
        claim = float(cases[key]["claim_yuan"]) if key in cases else math.nan
        if not amount <= claim + EPS:
            problem(f"replication {key[0]} case {key[1]}: disbursed {amount:.2f} > claim {claim}")
    if filed != set(cases):
        problem(f"{len(filed ^ set(cases))} matters differ between events.csv and cases.csv")
    for key, row in cases.items():
        if (row["outcome"] == "open") != (key not in closed):
            problem(
                f"replication {key[0]} case {key[1]}: outcome {row['outcome']} but "
                f"{'a' if key in closed else 'no'} closed event"
            )
    return problems


def _where(e: dict[str, str]) -> str:
    return (
        f"replication {e['replication']} case {e['case_id']} asset {e['asset_id']} "
        f"({e['asset_type']}, day {float(e['time_days']):g})"
    )
