"""What a report counts, as SQL expressions: each case's settings (which field is its team,
which clock its first response...), the reported cases, their group value and durations.
Shared by ``report_sql`` (the figures), ``report_rows`` (one row per case) and
``report_causes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from activities.storage import CaseEventRow, CaseMergeRow, CaseRow, ClockRow, DefinitionRow
from process.spec import Reporting

from .reports import DatedBy, GroupBy, Period

V = TypeVar("V", bound=Hashable)

CASES = CaseRow.__table__.alias("c")
CLOCKS = ClockRow.__table__.alias("k")
EVENTS = CaseEventRow.__table__
EVERY_CASE = Period()
NO_GROUP = "null"
"""The group value of a case without one (JSON null), and of every case by process."""


@dataclass(frozen=True)
class ReportSettings:
    """Each case's ``reporting:`` section: its definition version's, else its process's, else
    the defaults (``Reporting()``)."""

    by_process: Mapping[str, Reporting] = field(default_factory=dict)
    by_version: Mapping[tuple[str, int], Reporting] = field(default_factory=dict)
    by_hash: Mapping[str, Reporting] = field(default_factory=dict)
    """Published versions by content hash: what a case's own version says comes first."""

    def choose(self, pick: Callable[[Reporting], V], make: Callable[[V], ColumnElement[Any]]) -> (
        ColumnElement[Any]
    ):  # fmt: skip
        """``make(pick(settings))`` of each case's settings, as one SQL expression."""
        chosen: dict[V, list[ColumnElement[bool]]] = {}
        for content_hash, reporting in self.by_hash.items():
            chosen.setdefault(pick(reporting), []).append(CASES.c.content_hash == content_hash)
        for (process, version), reporting in self.by_version.items():
            when = and_(CASES.c.process == process, CASES.c.version == version)
            chosen.setdefault(pick(reporting), []).append(when)
        for process, reporting in self.by_process.items():
            chosen.setdefault(pick(reporting), []).append(CASES.c.process == process)
        default = pick(Reporting())
        if set(chosen) <= {default}:
            return make(default)
        # Version-specific choices come first in the CASE, so they win over the process's.
        whens = [(or_(*conditions), make(value)) for value, conditions in chosen.items()]
        return case(*whens, else_=make(default))

    def values(self, pick: Callable[[Reporting], V]) -> set[V]:
        """Every value ``pick`` takes among the settings, the defaults' included."""
        chosen = [
            *self.by_hash.values(),
            *self.by_version.values(),
            *self.by_process.values(),
            Reporting(),
        ]
        return {pick(reporting) for reporting in chosen}


def load_settings(
    session: Session, given: Mapping[str, Reporting] | ReportSettings
) -> ReportSettings:
    """The settings given, under each published version's own ``reporting:`` section (a case
    on a version never published, from before the registry, counts by the settings given)."""
    chosen = given if isinstance(given, ReportSettings) else ReportSettings(by_process=given)
    if chosen.by_hash:
        return chosen
    published = session.execute(select(DefinitionRow.content_hash, DefinitionRow.spec))
    by_hash = {
        content_hash: Reporting.model_validate(spec["definition"].get("reporting") or {})
        for content_hash, spec in published
    }
    return ReportSettings(chosen.by_process, chosen.by_version, by_hash)


def text_value(value: str) -> ColumnElement[str]:
    """A string parameter (typed, so that PostgreSQL picks ``jsonb -> text``)."""
    return literal(value, String)


def group_value(settings: ReportSettings, by: GroupBy, postgres: bool) -> ColumnElement[str]:
    """The case's team or category field as JSON text (``null`` when absent)."""
    if by is GroupBy.PROCESS:
        return text_value(NO_GROUP)
    name = settings.choose(lambda r: str(getattr(r, by.value)), text_value)
    value = CASES.c.fields.op("->", return_type=Text)(name)
    return func.coalesce(cast(value, Text) if postgres else value, text_value(NO_GROUP))


def group_label(value: str) -> str:
    """What the report calls a group value, as ``build_report`` does: ``str`` of the field."""
    loaded = json.loads(value)
    return "-" if loaded is None else str(loaded)


def span(started: Any, stopped: Any, postgres: bool) -> ColumnElement[Any]:
    """``stopped - started``: an interval on PostgreSQL, exact microseconds on SQLite."""
    if postgres:
        return stopped - started  # type: ignore[no-any-return]

    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds (unixepoch truncates)
    # plus the six digits; julianday's floating point would lose microseconds.
    def micros(moment: Any) -> ColumnElement[int]:
        seconds = func.unixepoch(moment, type_=Integer)
        return seconds * 1_000_000 + cast(func.substr(moment, 21, 6), Integer)

    return micros(stopped) - micros(started)


def duration(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(microseconds=int(value))


@dataclass(frozen=True)
class Scope:
    """Which cases are reported, and how rows of other tables are found for them: per case
    through an index (SQLite's nested loops are at their best there), or by joining the
    reported cases' rows in bulk (PostgreSQL hashes them)."""

    process: str | None
    period: Period
    per_case: bool

    @property
    def narrowed(self) -> bool:
        """Does a process or period narrow the cases reported (besides leaving out merged
        duplicates)?"""
        period = self.period
        return self.process is not None or period.since is not None or period.until is not None

    def only_reported(self, query: Select[Any], table: Any) -> Select[Any]:
        """``query`` over ``table`` narrowed to the rows of reported cases, when a process or
        period narrows them (the rows of merged duplicates are left out by the join with the
        reported cases that follows; narrowing them here too is one more join of them all)."""
        if not self.narrowed:
            return query
        return query.join(self.reported, self.reported.c.case_id == table.c.case_id)

    @cached_property
    def reported(self) -> Any:
        """The reported cases' ids, found once for every table narrowed to them (each found
        them again before: a scan of the cases per table)."""
        reported = CaseRow.__table__.alias("reported")
        where = reported_filters(reported, self.process, self.period)
        return select(reported.c.case_id).where(*where).cte("reported").prefix_with("MATERIALIZED")


def reported_filters(cases: Any, process: str | None, period: Period) -> list[ColumnElement[bool]]:
    # A merged duplicate is counted once, as its primary case.
    merged = select(CaseMergeRow.duplicate_id).scalar_subquery()
    where: list[ColumnElement[bool]] = [cases.c.case_id.not_in(merged)]
    if process is not None:
        where.append(cases.c.process == process)
    dated = cases.c.opened_at if period.by is DatedBy.OPENED else cases.c.closed_at
    if period.since is not None:
        where.append(dated >= period.since)
    if period.until is not None:
        where.append(dated < period.until)
    return where
