"""Business calendars: working hours, holidays and make-up working days (调休), as data and maths.

Pure and deterministic, so deadlines can be computed inside workflow code. All arithmetic is
done on UTC instants: Python subtracts aware datetimes of one zone in wall time, which would be
wrong across a daylight-saving change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def known_zone(value: str) -> str:
    """An IANA time zone name, or ValueError naming the mistake."""
    try:
        # The name becomes a file name: a long one is an OSError, not a missing zone.
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(f"unknown time zone {shown!r} (e.g. Asia/Shanghai)") from None
    return value


class CalendarCoverageError(ValueError):
    """A deadline runs past the dates a calendar covers: the due time would be a guess."""


def parse_span(text: str) -> tuple[time, time]:
    match = _SPAN.match(text)
    if not match:
        raise ValueError(f"working hours {text!r}: write them as HH:MM-HH:MM, e.g. 09:00-12:00")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
        raise ValueError(f"working hours {text!r}: not a time of day")
    start = time(start_h, start_m)
    end = time.max if end_h == 24 else time(end_h, end_m)
    if end <= start:
        raise ValueError(f"working hours {text!r}: the end must come after the start")
    return start, end


class Covers(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True
    )

    first: date = Field(alias="from")
    """The first date the calendar knows, e.g. 2020-01-01."""
    last: date = Field(alias="to")
    """The last date the calendar knows, e.g. 2026-12-31."""


class CalendarSpec(BaseModel):
    """A calendar as designers write it in ``definitions/calendars/<name>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    calendar: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    """The calendar's name: the same as its file name, e.g. ``cn-workdays``."""
    title: str | None = None
    """The calendar's name for people."""
    timezone: str
    """The IANA time zone the working hours are in, e.g. ``Asia/Shanghai``."""
    hours: dict[str, list[str]]
    """Working hours per weekday (mon...sun); a day left out or empty is not worked."""
    workday_hours: list[str] | None = None
    """Hours on make-up working days (调休); Monday's hours when left out."""
    covers: Covers
    """The dates this calendar knows; a deadline beyond them is an error, not a guess."""
    holidays: dict[date, str] = Field(default_factory=dict)
    """Days off by date, with their names (``2026-10-01: 国庆节 National Day``)."""
    workdays: dict[date, str] = Field(default_factory=dict)
    """Make-up working days: weekend days that are worked."""

    _known_zone = field_validator("timezone")(known_zone)

    @field_validator("hours")
    @classmethod
    def _weekdays(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday; use {', '.join(WEEKDAYS)}")
            for span in spans:
                parse_span(span)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CalendarSpec:
        for span in self.workday_hours or []:
            parse_span(span)
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"{both[0]} is both a holiday and a make-up working day")
        if self.covers.last < self.covers.first:
            raise ValueError("covers: 'to' comes before 'from'")
        return self


class BusinessCalendar:
    """Working time on a calendar: add it, measure it, count working days.

    ``provisional=True`` counts the dates past ``covers`` with the weekly hours alone (no
    holidays, no make-up days are known there yet) instead of refusing them: a deadline then
    still gets a due time, which ``guessed`` says is provisional and why.
    """

    def __init__(self, spec: CalendarSpec, provisional: bool = False) -> None:
        self.spec = spec
        self.name = spec.calendar
        self.zone: tzinfo = ZoneInfo(spec.timezone)
        self._zone = self.zone
        self._weekly = [[parse_span(s) for s in spec.hours.get(day, [])] for day in WEEKDAYS]
        extra = spec.workday_hours
        self._makeup = [parse_span(s) for s in extra] if extra is not None else self._weekly[0]
        # Without any weekly hours nothing past 'covers' could ever be reached: refuse instead.
        self.provisional = provisional and any(self._weekly)

    def covered(self, day: date) -> bool:
        return self.spec.covers.first <= day <= self.spec.covers.last

    def guessed(self, start: datetime, end: datetime) -> str | None:
        """Why a span counted with weekly hours alone is provisional, or None if covered."""
        first, last = (moment.astimezone(self._zone).date() for moment in sorted((start, end)))
        if self.covered(first) and self.covered(last):
            return None
        covers = self.spec.covers
        return (
            f"calendar {self.name!r} covers {covers.first} to {covers.last}; later dates are "
            "counted with the weekly working hours alone, without holidays or make-up days, "
            "until the calendar is extended"
        )

    def _day_spans(self, day: date) -> list[tuple[time, time]]:
        if not self.covered(day):
            if self.provisional:
                return self._weekly[day.weekday()]
            raise CalendarCoverageError(
                f"calendar {self.name!r} covers {self.spec.covers.first} to "
                f"{self.spec.covers.last}; {day} is outside it (add the next year's holidays)"
            )
        if day in self.spec.holidays:
            return []
        if day in self.spec.workdays:
            return self._makeup
        return self._weekly[day.weekday()]

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of a local date, as UTC instants."""
        result = []
        for start, end in self._day_spans(day):
            opens = datetime.combine(day, start, tzinfo=self._zone).astimezone(UTC)
            closes = (
                datetime.combine(day + timedelta(days=1), time(), tzinfo=self._zone)
                if end == time.max
                else datetime.combine(day, end, tzinfo=self._zone)
            ).astimezone(UTC)
            result.append((opens, closes))
        return result

    def is_working_day(self, day: date) -> bool:
        return bool(self._day_spans(day))

    def _days(self, moment: datetime, step: int) -> Iterator[date]:
        day = moment.astimezone(self._zone).date()
        while True:
            yield day
            day += timedelta(days=step)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which ``amount`` of working time has passed since ``start``."""
        if amount <= timedelta():
            return start
        left = amount
        for day in self._days(start, 1):
            for opens, closes in self.intervals(day):
                begin = max(opens, start)
                if begin >= closes:
                    continue
                if closes - begin >= left:
                    return begin + left
                left -= closes - begin
        raise AssertionError("unreachable: _days is endless and coverage ends it")

    def subtract(self, end: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of working time before ``end``."""
        if amount <= timedelta():
            return end
        left = amount
        for day in self._days(end, -1):
            for opens, closes in reversed(self.intervals(day)):
                finish = min(closes, end)
                if finish <= opens:
                    continue
                if finish - opens >= left:
                    return finish - left
                left -= finish - opens
        raise AssertionError("unreachable: _days is endless and coverage ends it")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end``."""
        total = timedelta()
        if end <= start:
            return total
        for day in self._days(start, 1):
            if day > end.astimezone(self._zone).date():
                return total
            for opens, closes in self.intervals(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta():
                    total += overlap
        raise AssertionError("unreachable")  # pragma: no cover

    def add_working_days(self, start: datetime, count: int) -> datetime:
        """Close of business on the ``count``-th working day after the day of ``start``.

        The day a period starts on is not counted (期间开始的当日不计入), as in Chinese
        regulations: a complaint accepted on Friday with 1 working day is due Monday evening.
        """
        seen = 0
        days = self._days(start, 1)
        next(days)
        for day in days:
            spans = self.intervals(day)
            if spans:
                seen += 1
                if seen == count:
                    return spans[-1][1]
        raise AssertionError("unreachable: _days is endless and coverage ends it")

    def back_working_days(self, end: datetime, count: int) -> datetime:
        """The time of day of ``end`` on the ``count``-th working day before its day."""
        local = end.astimezone(self._zone)
        day, seen = local.date(), 0
        while seen < count:
            day -= timedelta(days=1)
            seen += 1 if self._day_spans(day) else 0
        moment = datetime.combine(day, local.time(), tzinfo=self._zone)
        return moment.astimezone(UTC)
