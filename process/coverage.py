"""Which business calendars in use end soon: past their end, due times are only provisional.

Pure: the entry points pass today's date (``check``, worker start, ``/healthz``) and print or
return the warnings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from .calendars import CalendarSpec
from .compiler import CompiledSpec

WARN_DAYS = 60
"""How long before a calendar's end kesu starts saying so."""


def calendars_in_use(specs: Iterable[CompiledSpec]) -> dict[str, CalendarSpec]:
    """Every calendar a process's business clocks count on, by name."""
    return {name: calendar for spec in specs for name, calendar in spec.calendars.items()}


def ending_soon(
    calendars: Iterable[CalendarSpec], today: date, within: int = WARN_DAYS
) -> list[str]:
    """One warning per calendar whose known dates end within ``within`` days of ``today``."""
    warnings = []
    for calendar in sorted(calendars, key=lambda found: found.calendar):
        last = calendar.covers.last
        left = (last - today).days
        if left > within:
            continue
        when = f"ended {-left} days ago" if left < 0 else f"ends in {left} days"
        warnings.append(
            f"calendar {calendar.calendar!r} covers dates to {last} ({when}): due times after "
            f"{last} are provisional (weekly hours, no holidays); add {last.year + 1} with "
            "'starter.py calendars add-year' when the State Council publishes it, then "
            "'starter.py calendars publish'"
        )
    return warnings
