"""Root causes and rectifications (溯源整改) in the records: ``starter.py report`` and ``--causes``.

Three aggregates, each one ``GROUP BY`` statement the database answers without handing rows to
Python:

- root causes by category and team: how many cases each root cause (根本原因) was found for,
  by each case's current root-cause field;
- open rectifications by category and team: cases whose rectification clock (整改) runs, and
  how many of those are overdue (the clock breached);
- root causes by ISO week: the trend, dated by the case's latest responsibility finding
  (责任认定, recorded with the root cause when the case closes), in a zone's UTC offset.

Which field is the root cause and which clock follows a rectification: each case's version's
``reporting:`` section (``root_cause``, ``rectification``), as for the other figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Text, cast, func, literal, select
from sqlalchemy.orm import Session

from activities.storage import ResponsibilityRow
from process.clocks import ClockStatus
from process.spec import Reporting

from .report_scope import (
    CASES,
    CLOCKS,
    EVERY_CASE,
    NO_GROUP,
    ReportSettings,
    group_label,
    group_value,
    load_settings,
    reported_filters,
    text_value,
)
from .reports import GroupBy, Period

FINDINGS = ResponsibilityRow.__table__


@dataclass(frozen=True)
class CauseCount:
    process: str
    category: str
    team: str
    cause: str
    cases: int


@dataclass(frozen=True)
class OpenRectifications:
    process: str
    category: str
    team: str
    open: int
    overdue: int
    """Open and past their due date (the clock breached)."""


@dataclass(frozen=True)
class WeeklyCause:
    week: str
    """ISO week, ``2026-W49``."""
    cause: str
    cases: int


@dataclass(frozen=True)
class CauseReport:
    by_group: list[CauseCount]
    rectifications: list[OpenRectifications]
    by_week: list[WeeklyCause]

    @property
    def empty(self) -> bool:
        return not (self.by_group or self.rectifications or self.by_week)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _field(settings: ReportSettings, postgres: bool) -> ColumnElement[str]:
    """The case's root-cause field as JSON text (``null`` when absent)."""
    name = settings.choose(lambda r: r.root_cause_field, text_value)
    value = CASES.c.fields.op("->", return_type=Text)(name)
    return func.coalesce(cast(value, Text) if postgres else value, text_value(NO_GROUP))


def _groups(settings: ReportSettings, postgres: bool) -> tuple[Any, Any]:
    category = group_value(settings, GroupBy.CATEGORY, postgres).label("category")
    team = group_value(settings, GroupBy.TEAM, postgres).label("team")
    return category, team


def causes_by_group(
    session: Session,
    reporting: Mapping[str, Reporting] | ReportSettings,
    *,
    process: str | None = None,
    period: Period = EVERY_CASE,
) -> list[CauseCount]:
    settings, postgres = load_settings(session, reporting), _postgres(session)
    category, team = _groups(settings, postgres)
    cause = _field(settings, postgres).label("cause")
    query = (
        select(CASES.c.process, category, team, cause, func.count().label("n"))
        .where(*reported_filters(CASES, process, period), cause != text_value(NO_GROUP))
        .group_by(CASES.c.process, category, team, cause)
        .order_by(CASES.c.process, category, team, func.count().desc(), cause)
    )
    return [
        CauseCount(row.process, group_label(row.category), group_label(row.team),
                   group_label(row.cause), row.n)
        for row in session.execute(query)
    ]  # fmt: skip


def open_rectifications(
    session: Session,
    reporting: Mapping[str, Reporting] | ReportSettings,
    *,
    process: str | None = None,
) -> list[OpenRectifications]:
    """Now, whatever the period: an open rectification is open however old its case."""
    settings, postgres = load_settings(session, reporting), _postgres(session)
    category, team = _groups(settings, postgres)
    clock = settings.choose(lambda r: r.rectification_clock, text_value)
    overdue = func.count(CLOCKS.c.breached_at)
    query = (
        select(CASES.c.process, category, team, func.count().label("n"), overdue.label("late"))
        .select_from(CASES.join(CLOCKS, CLOCKS.c.case_id == CASES.c.case_id))
        .where(
            *reported_filters(CASES, process, EVERY_CASE),
            CLOCKS.c.name == clock,
            CLOCKS.c.started_at.is_not(None),
            CLOCKS.c.status != ClockStatus.STOPPED.value,
        )
        .group_by(CASES.c.process, category, team)
        .order_by(CASES.c.process, category, team)
    )
    return [
        OpenRectifications(row.process, group_label(row.category), group_label(row.team),
                           row.n, row.late)
        for row in session.execute(query)
    ]  # fmt: skip


def _iso_week(moment: Any, offset: timedelta, postgres: bool) -> ColumnElement[str]:
    """``2026-W49`` of a stored UTC time shifted by ``offset``, computed in SQL."""
    minutes = int(offset.total_seconds() // 60)
    if postgres:
        local = func.timezone("UTC", moment) + func.make_interval(0, 0, 0, 0, 0, minutes)
        return func.to_char(local, 'IYYY-"W"IW')
    # SQLite has no ISO week before 3.46: the ISO year and week are those of the week's
    # Thursday (the date 3 days back, then forward to a Thursday).
    thursday = func.date(moment, f"{minutes:+d} minutes", "-3 days", "weekday 4")
    week = (cast(func.strftime("%j", thursday), Integer) - 1) // 7 + 1
    year = func.strftime("%Y", thursday, type_=Text)
    return year + literal("-W", Text) + func.printf("%02d", week, type_=Text)


def causes_by_week(
    session: Session,
    reporting: Mapping[str, Reporting] | ReportSettings,
    *,
    process: str | None = None,
    period: Period = EVERY_CASE,
    offset: timedelta = timedelta(),
) -> list[WeeklyCause]:
    settings, postgres = load_settings(session, reporting), _postgres(session)
    found = (
        select(FINDINGS.c.case_id, func.max(FINDINGS.c.at).label("found_at"))
        .group_by(FINDINGS.c.case_id)
        .subquery("found")
    )
    cause = _field(settings, postgres).label("cause")
    week = _iso_week(found.c.found_at, offset, postgres).label("week")
    query = (
        select(week, cause, func.count().label("n"))
        .select_from(CASES.join(found, found.c.case_id == CASES.c.case_id))
        .where(*reported_filters(CASES, process, period), cause != text_value(NO_GROUP))
        .group_by(week, cause)
        .order_by(week, func.count().desc(), cause)
    )
    return [WeeklyCause(row.week, group_label(row.cause), row.n) for row in session.execute(query)]


def cause_report(
    session: Session,
    reporting: Mapping[str, Reporting] | ReportSettings,
    *,
    process: str | None = None,
    period: Period = EVERY_CASE,
    offset: timedelta = timedelta(),
    weekly: bool = True,
) -> CauseReport:
    """All three (``weekly=False``: not the trend), on one set of settings (published
    versions read once)."""
    settings = load_settings(session, reporting)
    by_week = (
        causes_by_week(session, settings, process=process, period=period, offset=offset)
        if weekly
        else []
    )
    return CauseReport(
        by_group=causes_by_group(session, settings, process=process, period=period),
        rectifications=open_rectifications(session, settings, process=process),
        by_week=by_week,
    )
