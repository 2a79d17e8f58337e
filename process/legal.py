"""Periods as Chinese law counts them (民法典 Civil Code arts. 200-204), for ``clock: legal``.

- A period in days or months does not count the day it starts on (art. 201).
- A period in months ends on the corresponding day of the last month, or on that month's last
  day when it has no such day (art. 202: 31 January + 1 month ends on 28 February).
- A last day that is a statutory rest day (法定休假日) moves to the day after the rest ends
  (art. 203). Rest days are read off the business calendar: its statutory holidays and its
  weekly rest days (the courts count weekends as 法定休假日), while a make-up working day
  (调休) is a working day. 1 October 2026 (National Day) therefore moves to 8 October.
- The last day ends at 24:00, or at the close of business where business hours apply (art. 203):
  ``ends: midnight`` or ``ends: close`` on the deadline.

Pure, like every measure: the workflow passes ``workflow.now()``. Past a calendar's known dates
the weekly hours decide what a rest day is, and the due time is provisional.
"""

from __future__ import annotations

import calendar as gregorian
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from .calendars import BusinessCalendar
from .durations import Amount
from .measures import CalendarMeasure

Ends = Literal["midnight", "close"]


def add_months(day: date, months: int) -> date:
    """The corresponding day ``months`` later, or the last day of that month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, gregorian.monthrange(year, month)[1]))


def last_day(start: date, amount: Amount) -> date:
    """The period's last day before rest days move it: months first, then days."""
    return add_months(start, amount.months) + timedelta(days=amount.span.days)


def first_working_day(calendar: BusinessCalendar, day: date) -> date:
    """``day``, or the day after the rest days (holidays, weekends) it falls in end."""
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def legal_due(calendar: BusinessCalendar, start: datetime, amount: Amount, ends: Ends) -> datetime:
    """When a legal period that starts at ``start`` runs out."""
    zone = calendar.zone
    day = first_working_day(calendar, last_day(start.astimezone(zone).date(), amount))
    if ends == "close":
        return calendar.intervals(day)[-1][1]
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)


class LegalMeasure(CalendarMeasure):
    """A legal period on a calendar: due times by the Civil Code, everything else in plain
    calendar time (a warning ``3d`` before the due time is 72 hours before it)."""

    def __init__(self, calendar: BusinessCalendar, ends: Ends = "midnight") -> None:
        super().__init__(calendar.zone)
        self.calendar = calendar
        self.ends: Ends = ends
        self.label = f"a legal period on {calendar.name} (Civil Code arts. 200-204)"

    def due(self, start: datetime, target: Amount, paused: timedelta) -> datetime:
        # Paused time moves the start: the period runs as if it began that much later.
        return legal_due(self.calendar, start + paused, target, self.ends)

    def budget(self, start: datetime, target: Amount) -> timedelta:
        return legal_due(self.calendar, start, target, self.ends) - start

    def guessed(self, start: datetime, end: datetime) -> str | None:
        return self.calendar.guessed(start, end)
