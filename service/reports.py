"""Case metrics per process, team or category, from the stored records (``starter.py report``).

Which field is the team, which clock is the first response, which stage is a review: the
``reporting:`` section of the version each case runs on says (``process.spec.Reporting``,
defaults there), read from the registry; a case on a version that was never published (from
before the registry) falls back to its process's current section.

- opened / closed: cases opened, cases that reached a final stage.
- compliance per clock: met / (met + missed); a clock counts once stopped, or once breached.
- time to first response / resolution: from the clock's start to its stop (wall time), median
  and p90 (nearest rank) over the clocks that stopped. Without such a clock, resolution is
  opening to closing.
- CSAT: the mean of each case's latest 1-5 answer and the share of 4s and 5s; NPS: % of 9-10
  minus % of 0-6 among each case's latest 0-10 answer.
- review rate (复核率) and reopen rate: shares of the group's cases that entered a review stage
  or took a reopen event at least once.
- responsibility (责任认定): how many of the group's cases each party was found responsible
  for (each case's latest attribution).

``Period`` limits the cases to those opened (or closed) in ``[since, until)``.

``build_report`` is the definition of these figures: it reads every row into Python, so it is
kept for small data and as the reference the database's own computation
(``service.report_sql.summarise_report``, what the entry points use) is tested against. Both
give ``GroupSummary``: the figures only, never the values behind them.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from activities.storage import (
    CaseEventRow,
    CaseMergeRow,
    CaseRow,
    ClockRow,
    DefinitionRow,
    ResponsibilityRow,
    SatisfactionRow,
)
from process.spec import Reporting


class DatedBy(StrEnum):
    OPENED = "opened"
    CLOSED = "closed"


@dataclass(frozen=True)
class Period:
    """Cases opened (or closed) at or after ``since`` and before ``until``; None: unbounded."""

    since: datetime | None = None
    until: datetime | None = None
    by: DatedBy = DatedBy.OPENED


class GroupBy(StrEnum):
    PROCESS = "process"
    TEAM = "team"
    CATEGORY = "category"


@dataclass(frozen=True)
class Times:
    """What the report shows of a set of durations."""

    n: int = 0
    median: timedelta | None = None
    p50: timedelta | None = None
    """Nearest rank (a value that occurred, unlike ``median`` of an even count)."""
    p90: timedelta | None = None
    """Nearest rank."""

    @classmethod
    def of(cls, values: list[timedelta]) -> Times:
        return cls(
            n=len(values),
            median=median(values),
            p50=percentile(values, 0.5),
            p90=percentile(values, REPORT_SHARE),
        )


REPORT_SHARE = 0.9
"""The high percentile the report shows (p90)."""


class _CaseRates:
    """The shares of opened cases that were reviewed and reopened, for both shapes of a group."""

    opened: int
    reviewed: int
    reopened: int

    @property
    def review_rate(self) -> float | None:
        return self.reviewed / self.opened if self.opened else None

    @property
    def reopen_rate(self) -> float | None:
        return self.reopened / self.opened if self.opened else None


@dataclass
class GroupSummary(_CaseRates):
    """One group's figures, as printed: counts and order statistics, no row behind them."""

    process: str
    group: str | None
    opened: int = 0
    closed: int = 0
    compliance: dict[str, list[int]] = field(default_factory=dict)
    """clock -> [met, missed], in clock name order"""
    first_response: Times = Times()
    resolution: Times = Times()
    csat_n: int = 0
    csat_total: int = 0
    csat_4_or_5: int = 0
    nps_n: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    reviewed: int = 0
    reopened: int = 0
    responsibility: dict[str, int] = field(default_factory=dict)

    @property
    def csat_mean(self) -> float | None:
        # As statistics.fmean of the answers: their exact (integer) sum over their count.
        return float(self.csat_total) / self.csat_n if self.csat_n else None

    @property
    def csat_satisfied(self) -> float | None:
        return self.csat_4_or_5 / self.csat_n if self.csat_n else None

    @property
    def nps_score(self) -> float | None:
        if not self.nps_n:
            return None
        return 100 * (self.nps_promoters - self.nps_detractors) / self.nps_n


@dataclass
class GroupReport(_CaseRates):
    process: str
    group: str | None
    """The team or category (None when grouping by process only)."""
    opened: int = 0
    closed: int = 0
    compliance: dict[str, list[int]] = field(default_factory=dict)
    """clock -> [met, missed]"""
    first_response: list[timedelta] = field(default_factory=list)
    resolution: list[timedelta] = field(default_factory=list)
    csat: list[int] = field(default_factory=list)
    nps: list[int] = field(default_factory=list)
    reviewed: int = 0
    reopened: int = 0
    responsibility: dict[str, int] = field(default_factory=dict)
    """责任认定: party -> cases attributed to it (each case's latest attribution)."""

    def summary(self) -> GroupSummary:
        return GroupSummary(
            process=self.process,
            group=self.group,
            opened=self.opened,
            closed=self.closed,
            compliance={name: list(self.compliance[name]) for name in sorted(self.compliance)},
            first_response=Times.of(self.first_response),
            resolution=Times.of(self.resolution),
            csat_n=len(self.csat),
            csat_total=sum(self.csat),
            csat_4_or_5=sum(score >= 4 for score in self.csat),
            nps_n=len(self.nps),
            nps_promoters=sum(score >= 9 for score in self.nps),
            nps_detractors=sum(score <= 6 for score in self.nps),
            reviewed=self.reviewed,
            reopened=self.reopened,
            responsibility=dict(self.responsibility),
        )

    @property
    def csat_mean(self) -> float | None:
        return statistics.fmean(self.csat) if self.csat else None

    @property
    def csat_satisfied(self) -> float | None:
        return sum(score >= 4 for score in self.csat) / len(self.csat) if self.csat else None

    @property
    def nps_score(self) -> float | None:
        if not self.nps:
            return None
        promoters = sum(score >= 9 for score in self.nps)
        detractors = sum(score <= 6 for score in self.nps)
        return 100 * (promoters - detractors) / len(self.nps)


def median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(values) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[timedelta], share: float) -> timedelta | None:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def _latest_answers(
    session: Session, case_ids: set[str]
) -> dict[str, tuple[int | None, int | None]]:
    """Each case's latest CSAT and NPS (a case surveyed again after a reopen counts once)."""
    latest: dict[str, tuple[int | None, int | None]] = {}
    query = select(SatisfactionRow).order_by(SatisfactionRow.case_id, SatisfactionRow.seq)
    for row in session.scalars(query):
        if row.case_id in case_ids:
            csat, nps = latest.get(row.case_id, (None, None))
            latest[row.case_id] = (row.csat if row.csat is not None else csat,
                                   row.nps if row.nps is not None else nps)  # fmt: skip
    return latest


def _responsibilities(session: Session, case_ids: set[str]) -> dict[str, str]:
    """Each case's latest attribution (a reopened case may be attributed again)."""
    query = select(ResponsibilityRow.case_id, ResponsibilityRow.responsibility).order_by(
        ResponsibilityRow.case_id, ResponsibilityRow.seq
    )
    return {
        row.case_id: row.responsibility for row in session.execute(query) if row.case_id in case_ids
    }


def _published_reporting(session: Session, hashes: set[str]) -> dict[str, Reporting]:
    """content hash -> the ``reporting:`` section of that published version."""
    query = select(DefinitionRow.content_hash, DefinitionRow.spec).where(
        DefinitionRow.content_hash.in_(sorted(hashes))
    )
    return {
        content_hash: Reporting.model_validate(spec["definition"].get("reporting") or {})
        for content_hash, spec in session.execute(query)
    }


def _marks(
    session: Session, reporting_of: Mapping[str, Reporting]
) -> dict[str, set[tuple[str, str]]]:
    """case -> its (event, to_stage) pairs that may count as a review or a reopen."""
    events = {event for r in reporting_of.values() for event in r.reopen_events}
    stages = {stage for r in reporting_of.values() for stage in r.review_stages}
    query = select(CaseEventRow.case_id, CaseEventRow.event, CaseEventRow.to_stage).where(
        or_(CaseEventRow.event.in_(events), CaseEventRow.to_stage.in_(stages))
    )
    marks: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in session.execute(query.distinct()):
        marks[row.case_id].add((row.event, row.to_stage))
    return marks


def build_report(
    session: Session,
    settings: Mapping[str, Reporting],
    *,
    by: GroupBy = GroupBy.PROCESS,
    process: str | None = None,
    period: Period = Period(),
) -> list[GroupReport]:
    """Each case counts by its own version's ``reporting:`` section; ``settings`` (each
    process's current section, a missing one uses the defaults) only for unpublished ones."""
    merged = select(CaseMergeRow.duplicate_id)  # counted once, as their primary cases
    query = select(CaseRow).where(CaseRow.case_id.not_in(merged))
    query = query.order_by(CaseRow.process, CaseRow.opened_at)
    if process is not None:
        query = query.where(CaseRow.process == process)
    dated = CaseRow.opened_at if period.by is DatedBy.OPENED else CaseRow.closed_at
    if period.since is not None:
        query = query.where(dated >= period.since)
    if period.until is not None:
        query = query.where(dated < period.until)
    cases = list(session.scalars(query))
    ids = {case.case_id for case in cases}
    clocks: dict[str, dict[str, ClockRow]] = defaultdict(dict)
    for clock in session.scalars(select(ClockRow)):
        if clock.case_id in ids:
            clocks[clock.case_id][clock.name] = clock
    answers = _latest_answers(session, ids)
    attributed = _responsibilities(session, ids)
    published = _published_reporting(session, {case.content_hash for case in cases})
    reporting_of = {
        case.case_id: published.get(case.content_hash) or settings.get(case.process, Reporting())
        for case in cases
    }
    marks = _marks(session, reporting_of)

    groups: dict[tuple[str, str | None], GroupReport] = {}
    first_opened: dict[tuple[str, str | None], datetime] = {}
    for case in cases:
        reporting = reporting_of[case.case_id]
        value = None
        if by is not GroupBy.PROCESS:
            raw = case.fields.get(getattr(reporting, by.value))
            value = str(raw) if raw is not None else "-"
        report = groups.setdefault((case.process, value), GroupReport(case.process, value))
        first_opened.setdefault((case.process, value), case.opened_at)
        report.opened += 1
        report.closed += case.closed_at is not None
        case_clocks = clocks.get(case.case_id, {})
        for name, clock in case_clocks.items():
            tally = report.compliance.setdefault(name, [0, 0])
            if clock.breached_at is not None:
                tally[1] += 1
            elif clock.met:
                tally[0] += 1
        if (spent := _elapsed(case_clocks.get(reporting.first_response))) is not None:
            report.first_response.append(spent)
        spent = _elapsed(case_clocks.get(reporting.resolution))
        if spent is None and reporting.resolution not in case_clocks and case.closed_at:
            spent = case.closed_at - case.opened_at
        if spent is not None:
            report.resolution.append(spent)
        csat, nps = answers.get(case.case_id, (None, None))
        if csat is not None:
            report.csat.append(csat)
        if nps is not None:
            report.nps.append(nps)
        if (party := attributed.get(case.case_id)) is not None:
            report.responsibility[party] = report.responsibility.get(party, 0) + 1
        steps = marks.get(case.case_id, set())
        report.reviewed += any(stage in reporting.review_stages for _, stage in steps)
        report.reopened += any(event in reporting.reopen_events for event, _ in steps)
    # Groups by process, then by their first case; groups opened at the same moment by name.
    order = sorted(groups, key=lambda key: (key[0], first_opened[key], key[1] or ""))
    return [groups[key] for key in order]


def _elapsed(clock: ClockRow | None) -> timedelta | None:
    if clock is None or clock.started_at is None or clock.stopped_at is None:
        return None
    return clock.stopped_at - clock.started_at
