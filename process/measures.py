"""How a deadline clock measures time: every hour (calendar) or working time only (business).

A clock keeps its start, its target and the time it spent paused *in its own measure*; the
measure turns those into a due time. Pure: the workflow calls it with ``workflow.now()``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from .calendars import BusinessCalendar
from .durations import Amount


class Measure(Protocol):
    label: str
    zone: tzinfo
    """Where people read this clock's times (the calendar's zone)."""

    def due(self, start: datetime, target: Amount, paused: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """How much of the span from ``start`` to ``end`` counts on this clock."""
        ...

    def add(self, moment: datetime, amount: timedelta) -> datetime: ...

    def subtract(self, moment: datetime, amount: timedelta) -> datetime: ...

    def budget(self, start: datetime, target: Amount) -> timedelta:
        """The target as counted time (what a '75%' warning is a share of)."""
        ...

    def guessed(self, start: datetime, end: datetime) -> str | None:
        """Why times from ``start`` to ``end`` are provisional (a calendar ends), or None."""
        ...

    def before(self, moment: datetime, amount: Amount) -> datetime:
        """``amount`` before ``moment`` (a warning before the due time)."""
        ...


class CalendarMeasure:
    label = "calendar time"

    def __init__(self, zone: tzinfo = UTC) -> None:
        self.zone = zone

    def due(self, start: datetime, target: Amount, paused: timedelta) -> datetime:
        return start + target.span + paused

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta())

    def add(self, moment: datetime, amount: timedelta) -> datetime:
        return moment + amount

    def subtract(self, moment: datetime, amount: timedelta) -> datetime:
        return moment - amount

    def budget(self, start: datetime, target: Amount) -> timedelta:
        return target.span

    def guessed(self, start: datetime, end: datetime) -> str | None:
        return None

    def before(self, moment: datetime, amount: Amount) -> datetime:
        return moment - amount.span


class BusinessMeasure:
    """Working time on a business calendar; may raise CalendarCoverageError (unless the
    calendar counts past its end provisionally)."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.label = f"working time on {calendar.name}"
        self.zone = calendar.zone

    def _unpaused_due(self, start: datetime, target: Amount) -> datetime:
        moment = start
        if target.working_days:
            moment = self.calendar.add_working_days(moment, target.working_days)
        return self.calendar.add(moment, target.span)

    def due(self, start: datetime, target: Amount, paused: timedelta) -> datetime:
        return self.calendar.add(self._unpaused_due(start, target), paused)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return self.calendar.between(start, end)

    def add(self, moment: datetime, amount: timedelta) -> datetime:
        return self.calendar.add(moment, amount)

    def subtract(self, moment: datetime, amount: timedelta) -> datetime:
        return self.calendar.subtract(moment, amount)

    def budget(self, start: datetime, target: Amount) -> timedelta:
        if not target.working_days:
            return target.span
        return self.calendar.between(start, self._unpaused_due(start, target))

    def guessed(self, start: datetime, end: datetime) -> str | None:
        return self.calendar.guessed(start, end)

    def before(self, moment: datetime, amount: Amount) -> datetime:
        """``1wd`` before a due time: the same time of day, one working day earlier."""
        earlier = self.calendar.back_working_days(moment, amount.working_days)
        return self.calendar.subtract(earlier, amount.span)
