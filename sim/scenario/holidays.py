"""Holiday calendars: public holidays and make-up working days (调休), by date.

A scenario names its calendar in ``holidays`` (default ``"cn"``: China's, shipped in
``sim/scenario/data/holidays-cn.toml``); a name is a shipped calendar, anything ending in
``.toml`` a file of the same form, and ``"none"`` no holidays at all. Courts keep it, and
so does every agency calendar that is not open all week.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Holidays:
    """Days off that would be working days, and weekend days worked instead."""

    name: str
    off: frozenset[dt.date]
    worked: frozenset[dt.date]
    years: tuple[int, int]  # first and last year covered

    def is_working_day(self, day: dt.date, weekly_open: bool) -> bool:
        """Is ``day`` worked, for a calendar whose weekly pattern says ``weekly_open``?"""
        if day in self.off:
            return False
        return weekly_open or day in self.worked


NO_HOLIDAYS = Holidays("none", frozenset(), frozenset(), (0, 0))


@functools.cache
def load_holidays(name: str) -> Holidays:
    """The calendar ``name`` (see the module's docstring); ValueError says what is wrong."""
    if name == "none":
        return NO_HOLIDAYS
    if name.endswith(".toml"):
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ValueError(f"holiday calendar '{name}' cannot be read: {e.strerror}") from None
    else:
        data = resources.files("sim.scenario") / "data" / f"holidays-{name}.toml"
        if not data.is_file():
            raise ValueError(
                f"unknown holiday calendar '{name}' (shipped: {', '.join(shipped())}; or a "
                "path ending in .toml; or 'none')"
            )
        text = data.read_text(encoding="utf-8")
    return _parse(name, text)


def shipped() -> list[str]:
    folder = resources.files("sim.scenario") / "data"
    return sorted(
        p.name.removeprefix("holidays-").removesuffix(".toml")
        for p in folder.iterdir()
        if p.name.startswith("holidays-")
    )


def _parse(name: str, text: str) -> Holidays:
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"holiday calendar '{name}': not valid TOML ({e})") from None
    off: set[dt.date] = set()
    worked: set[dt.date] = set()
    years: list[int] = []
    for year, spec in table.items():
        where = f"holiday calendar '{name}', [{year}]"
        if not year.isdigit() or not isinstance(spec, dict):
            raise ValueError(f"{where}: expected a table per year, e.g. [2023]")
        unknown = set(spec) - {"holidays", "workdays"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        years.append(int(year))
        for pair in spec.get("holidays", []):
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(type(d) is dt.date for d in pair)
                or pair[0] > pair[1]
            ):
                raise ValueError(
                    f"{where}.holidays: {pair!r} is not a range [first, last] of dates"
                )
            day = pair[0]
            while day <= pair[1]:
                off.add(day)
                day += dt.timedelta(days=1)
        for day in spec.get("workdays", []):
            if type(day) is not dt.date:
                raise ValueError(f"{where}.workdays: {day!r} is not a date")
            worked.add(day)
    if off & worked:
        first = min(off & worked)
        raise ValueError(f"holiday calendar '{name}': {first} is both a holiday and a workday")
    if not years:
        raise ValueError(f"holiday calendar '{name}': no years")
    return Holidays(name, frozenset(off), frozenset(worked), (min(years), max(years)))
