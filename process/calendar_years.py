"""Adding a year to a calendar by hand, from the State Council's notice (国务院办公厅关于
部分节假日安排的通知) transcribed as a small YAML file:

    year: 2027
    source: 国办发明电〔…〕…号                     # where the dates come from
    holidays:
      - {name: 元旦 New Year's Day, from: 2027-01-01, to: 2027-01-03}
      - {name: 清明节 Tomb-sweeping Day, on: 2027-04-05}
    workdays:                                        # make-up working days (调休)
      - {name: 春节 Spring Festival 调休, on: 2027-02-06}

Checked before anything is written, every problem at once: dates inside the year, a make-up
day on a weekend, no make-up day inside a holiday, the year right after the calendar's last.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .calendars import CalendarSpec, Covers
from .loader import DefinitionError, load_calendar, validate_yaml
from .yamlsource import Problem, format_path

Where = tuple[str | int, ...]


class Dates(BaseModel):
    """One named day (``on``) or range of days (``from`` ... ``to``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1)
    on: date | None = None
    first: date | None = Field(default=None, alias="from")
    last: date | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _one_form(self) -> Dates:
        ranged = (self.first is not None, self.last is not None)
        if ranged != ((False, False) if self.on is not None else (True, True)):
            raise ValueError("write 'on: <date>' or 'from: <date>, to: <date>'")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError("'to' comes before 'from'")
        return self

    def days(self) -> list[date]:
        if self.on is not None:
            return [self.on]
        assert self.first is not None and self.last is not None
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


class YearNotice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int = Field(ge=2000, le=2200)
    source: str | None = None
    holidays: list[Dates] = Field(min_length=1)
    workdays: list[Dates] = Field(default_factory=list)


def notice_problems(notice: YearNotice, calendar: CalendarSpec) -> list[tuple[Where, str]]:
    """What is wrong with a notice for ``calendar``: every problem, with its place."""
    found: list[tuple[Where, str]] = []
    expected = calendar.covers.last.year + 1
    if notice.year != expected:
        covered = f"{calendar.calendar} covers to {calendar.covers.last}"
        found.append(
            (("year",), f"{covered}: the next year to add is {expected}, not {notice.year}")
        )
    makeup = {day for entry in notice.workdays for day in entry.days()}
    seen: dict[date, str] = {}
    for part, entries in (("holidays", notice.holidays), ("workdays", notice.workdays)):
        for index, entry in enumerate(entries):
            where: Where = (part, index)
            for day in entry.days():
                if day.year != notice.year:
                    found.append((where, f"{day} is not in {notice.year}"))
                if part == "workdays" and day.weekday() < 5:
                    found.append((where, f"{day} is a {day:%A}: a make-up working day is a "
                                         "Saturday or Sunday"))  # fmt: skip
                if part == "holidays" and day in makeup:
                    found.append((where, f"{day} is also a make-up working day"))
                if day in seen:
                    found.append((where, f"{day} is listed twice (also {seen[day]})"))
                seen[day] = entry.name
    return found


def merged(calendar: CalendarSpec, notice: YearNotice) -> CalendarSpec:
    holidays = {day: entry.name for entry in notice.holidays for day in entry.days()}
    workdays = {day: entry.name for entry in notice.workdays for day in entry.days()}
    return calendar.model_copy(
        update={
            "covers": Covers(first=calendar.covers.first, last=date(notice.year, 12, 31)),
            "holidays": {**calendar.holidays, **holidays},
            "workdays": {**calendar.workdays, **workdays},
        }
    )


_COVERS = re.compile(r"^covers: .*$", re.MULTILINE)


def merged_text(text: str, calendar: CalendarSpec, notice: YearNotice) -> str:
    """The calendar file with the year added, keeping its comments and layout."""
    new = merged(calendar, notice)
    covers = f"covers: {{from: {new.covers.first}, to: {new.covers.last}}}"
    text, count = _COVERS.subn(covers, text)
    if count != 1:
        raise ValueError("the calendar file has no single top-level 'covers:' line")
    holidays = [f"  {day}: {name}" for day, name in sorted(new.holidays.items())
                if day not in calendar.holidays]  # fmt: skip
    workdays = [f"  {day}: {name}" for day, name in sorted(new.workdays.items())
                if day not in calendar.workdays]  # fmt: skip
    lines = text.rstrip("\n").split("\n")
    if "workdays:" not in lines:
        lines.append("workdays:")
    at = lines.index("workdays:")
    end = next((i for i in range(at + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    lines[end:end] = workdays
    lines[at:at] = holidays
    return "\n".join(lines) + "\n"


def add_year(calendar_path: Path, notice_path: Path) -> tuple[str, CalendarSpec]:
    """The calendar file's new text and content; DefinitionError with every problem otherwise."""
    calendar = load_calendar(calendar_path)
    source = notice_path.name
    try:
        text = notice_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DefinitionError([f"{notice_path}: cannot read: {error}"]) from None
    notice, document = validate_yaml(text, source, YearNotice, "notice", "year:, holidays:")
    problems = [
        Problem(document.line_of(where), format_path(where), message)
        for where, message in notice_problems(notice, calendar)
    ]
    if problems:
        problems.sort(key=lambda problem: problem.line)
        raise DefinitionError([problem.render(source) for problem in problems])
    new_text = merged_text(calendar_path.read_text(encoding="utf-8"), calendar, notice)
    expected = merged(calendar, notice)
    written: Any = validate_yaml(new_text, calendar_path.name, CalendarSpec, "calendar", "")[0]
    if written != expected:  # the layout was not the one merged_text knows: write nothing
        raise DefinitionError([f"{calendar_path.name}: cannot merge into this layout"])
    return new_text, expected
