"""``starter.py report``'s figures computed by the database: aggregates, never the rows.

The same figures as ``reports.build_report`` (the definition, tested against this), in a few
statements whose work grows with the rows they read and whose memory does not: counts and
sums per group by ``GROUP BY``; medians and p90 (nearest rank) by PostgreSQL's
``percentile_disc`` and, on SQLite, by numbering each group's durations in a window and
keeping the two middle ranks and the p90 rank. The median of an even count is then the mean of
the two middle values, computed in Python exactly as ``reports.median`` does.

Which field is the team, which clock the first response...: ``ReportSettings`` answers per
process and, where given, per definition version; the choice is made per row in SQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTableAs, DropTable

from activities.storage import (
    CaseEventRow,
    CaseMergeRow,
    CaseRow,
    ClockRow,
    DefinitionRow,
)
from process.spec import Reporting

from .reports import REPORT_SHARE, DatedBy, GroupBy, GroupSummary, Period, Times

V = TypeVar("V", bound=Hashable)

CASES = CaseRow.__table__.alias("c")
CLOCKS = ClockRow.__table__.alias("k")
EVENTS = CaseEventRow.__table__
EVERY_CASE = Period()
UPPER_MIDDLE = 0.5 + 2**-40
REPORT_WORK_MEM_BYTES = 64 * 1024 * 1024
"""What each of the report's hashes and sorts may hold in memory on PostgreSQL."""
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


def _settings(session: Session, given: Mapping[str, Reporting] | ReportSettings) -> ReportSettings:
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


def _text(value: str) -> ColumnElement[str]:
    """A string parameter (typed, so that PostgreSQL picks ``jsonb -> text``)."""
    return literal(value, String)


def _group_value(settings: ReportSettings, by: GroupBy, postgres: bool) -> ColumnElement[str]:
    """The case's team or category field as JSON text (``null`` when absent)."""
    if by is GroupBy.PROCESS:
        return _text(NO_GROUP)
    name = settings.choose(lambda r: str(getattr(r, by.value)), _text)
    value = CASES.c.fields.op("->", return_type=Text)(name)
    return func.coalesce(cast(value, Text) if postgres else value, _text(NO_GROUP))


def group_label(value: str) -> str:
    """What the report calls a group value, as ``build_report`` does: ``str`` of the field."""
    loaded = json.loads(value)
    return "-" if loaded is None else str(loaded)


def _span(started: Any, stopped: Any, postgres: bool) -> ColumnElement[Any]:
    """``stopped - started``: an interval on PostgreSQL, exact microseconds on SQLite."""
    if postgres:
        return stopped - started  # type: ignore[no-any-return]

    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds (unixepoch truncates)
    # plus the six digits; julianday's floating point would lose microseconds.
    def micros(moment: Any) -> ColumnElement[int]:
        seconds = func.unixepoch(moment, type_=Integer)
        return seconds * 1_000_000 + cast(func.substr(moment, 21, 6), Integer)

    return micros(stopped) - micros(started)


def _duration(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(microseconds=int(value))


Joins = list[tuple[Any, ColumnElement[bool]]]


@dataclass(frozen=True)
class _Scope:
    """Which cases are reported, and how rows of other tables are found for them: per case
    through an index (SQLite's nested loops are at their best there), or by joining the
    reported cases' rows in bulk (PostgreSQL hashes them)."""

    process: str | None
    period: Period
    per_case: bool

    def only_reported(self, query: Select[Any], table: Any, *, shared: bool = True) -> Select[Any]:
        """``query`` over ``table`` narrowed to the rows of reported cases, when a process or
        period narrows them (the rows of merged duplicates are left out by the join with the
        reported cases that follows; narrowing them here too is one more join of them all).

        ``shared``: through the reported cases found once for the statement; else found again
        for this table, which lets the planner see how few they are (joining the clocks with
        the shared set, it hashed all the clocks instead of the month's cases)."""
        if self.process is None and self.period.since is None and self.period.until is None:
            return query
        reported = self.reported if shared else self._reported_cases().subquery("reported")
        return query.join(reported, reported.c.case_id == table.c.case_id)

    def _reported_cases(self) -> Select[Any]:
        reported = CaseRow.__table__.alias("reported")
        return select(reported.c.case_id).where(*_filters(reported, self.process, self.period))

    @cached_property
    def reported(self) -> Any:
        """The reported cases' ids, found once for every table narrowed to them (each found
        them again before: a scan of the cases per table)."""
        return self._reported_cases().cte("reported").prefix_with("MATERIALIZED")


def _filters(cases: Any, process: str | None, period: Period) -> list[ColumnElement[bool]]:
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


@dataclass
class _Group:
    """One group's figures as the statements return them, keyed by (process, group value)."""

    summary: GroupSummary
    first_opened: Any
    ranks: dict[str, dict[int, timedelta]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


MEASURES = ("first_response", "resolution")


Names = Callable[[Reporting], tuple[str, ...]]
MARKS: tuple[tuple[Names, Any], ...] = (
    (lambda r: tuple(r.review_stages), EVENTS.c.to_stage),
    (lambda r: tuple(r.reopen_events), EVENTS.c.event),
)
"""What counts a case as reviewed (a stage it entered) and as reopened (an event it took)."""


def _marks(settings: ReportSettings, scope: _Scope) -> tuple[Joins, list[ColumnElement[int]]]:
    """1/0 per mark of ``MARKS``: did the case take one of its settings' events (enter one of
    its stages)? Per case through the (stage or event, case_id) indexes, or in one pass over
    the marking steps of the reported cases."""
    if scope.per_case:

        def took(column: Any) -> Callable[[tuple[str, ...]], ColumnElement[bool]]:
            def exists(names: tuple[str, ...]) -> ColumnElement[bool]:
                if not names:
                    return false()
                steps = select(EVENTS.c.case_id).where(column.in_(names))
                return steps.where(EVENTS.c.case_id == CASES.c.case_id).exists()

            return exists

        flags = [settings.choose(pick, took(column)) for pick, column in MARKS]
        return [], [case((flag, 1), else_=0) for flag in flags]
    # One index-only scan per set of names (the (stage or event, case_id) indexes), never the
    # steps themselves: a 1 in its own column, then one row per marked case.
    chosen = [
        (f"mark_{kind}_{index}", column, names)
        for kind, (pick, column) in enumerate(MARKS)
        for index, names in enumerate(sorted(settings.values(pick)))
        if names
    ]
    if not chosen:
        return [], [literal(0, Integer) for _ in MARKS]
    labels: list[dict[tuple[str, ...], str]] = [{} for _ in MARKS]
    for kind, (_, column) in enumerate(MARKS):
        for label, marking, names in chosen:
            if marking is column:
                labels[kind][names] = label
    branches = []
    for label, column, names in chosen:
        flags = [literal(int(other == label), Integer).label(other) for other, _, _ in chosen]
        steps = select(EVENTS.c.case_id, *flags).where(column.in_(names))
        branches.append(scope.only_reported(steps, EVENTS))
    marked = union_all(*branches).subquery()
    maxima = [func.max(marked.c[label]).label(label) for label, _, _ in chosen]
    found = select(marked.c.case_id, *maxima).group_by(marked.c.case_id).subquery()

    def flag(kind: int) -> Callable[[tuple[str, ...]], ColumnElement[bool]]:
        def marked(names: tuple[str, ...]) -> ColumnElement[bool]:
            return found.c[labels[kind][names]] == 1 if names else false()

        return marked

    flags = [settings.choose(pick, flag(kind)) for kind, (pick, _) in enumerate(MARKS)]
    return [(found, found.c.case_id == CASES.c.case_id)], [case((f, 1), else_=0) for f in flags]


def per_case(
    settings: ReportSettings,
    group: ColumnElement[str],
    scope: _Scope,
    postgres: bool,
    clocks: ClockSummary | None = None,
) -> Select[Any]:
    """One row per reported case with what the figures need of it (no case data but its group).

    The first response and resolution times come from ``clocks`` (a summary of each case's
    clocks, which also counts them for compliance) or, without one, from a look-up of each."""
    joined: Any = CASES
    if clocks is None:
        first = ClockRow.__table__.alias("fr")
        last = ClockRow.__table__.alias("res")
        first_name = settings.choose(lambda r: r.first_response, _text)
        last_name = settings.choose(lambda r: r.resolution, _text)
        joined = joined.outerjoin(
            first, and_(first.c.case_id == CASES.c.case_id, first.c.name == first_name)
        ).outerjoin(last, and_(last.c.case_id == CASES.c.case_id, last.c.name == last_name))
        first_response = _span(first.c.started_at, first.c.stopped_at, postgres)
        # Without a resolution clock, resolution runs from opening to closing.
        resolution: ColumnElement[Any] = case(
            (last.c.case_id.is_(None), _span(CASES.c.opened_at, CASES.c.closed_at, postgres)),
            else_=_span(last.c.started_at, last.c.stopped_at, postgres),
        )
        counted: list[Any] = []
    else:
        joined = joined.outerjoin(clocks.table, clocks.table.c.case_id == CASES.c.case_id)
        first_response = settings.choose(lambda r: r.first_response, clocks.span)
        resolution = settings.choose(
            lambda r: r.resolution,
            lambda name: case(
                (clocks.has(name), clocks.span(name)),
                else_=_span(CASES.c.opened_at, CASES.c.closed_at, postgres),
            ),
        )
        counted = clocks.counted()
    mark_joins, (reviewed, reopened) = _marks(settings, scope)
    for taken, on in mark_joins:
        joined = joined.outerjoin(taken, on)
    return (
        select(
            CASES.c.case_id,
            CASES.c.process,
            group.label("grp"),
            CASES.c.opened_at,
            case((CASES.c.closed_at.is_not(None), 1), else_=0).label("closed"),
            first_response.label("first_response"),
            resolution.label("resolution"),
            CASES.c.latest_csat.label("csat"),
            CASES.c.latest_nps.label("nps"),
            CASES.c.latest_responsibility.label("party"),
            reviewed.label("reviewed"),
            reopened.label("reopened"),
            *counted,
        )
        .select_from(joined)
        .where(*_filters(CASES, scope.process, scope.period))
    )


COUNTED = ("has", "met", "missed")
"""What ``ClockSummary`` counts of each clock name, per case and then per group."""


@dataclass(frozen=True)
class ClockSummary:
    """PostgreSQL: one row per case summing up its clocks, in one pass over them: for each
    clock name in use, is there one, met, missed, and (for the names a setting makes the first
    response or the resolution clock) its running time. It replaces a join of the cases with
    their clock rows per measure and the separate compliance count (another pass over them)."""

    table: Any
    names: tuple[str, ...]

    @classmethod
    def build(cls, names: Iterable[str], timed: set[str], scope: _Scope) -> ClockSummary:
        clocks = ClockRow.__table__
        kept = tuple(sorted(names))
        columns: list[Any] = [clocks.c.case_id]
        for index, name in enumerate(kept):
            named = clocks.c.name == name
            met = and_(named, clocks.c.breached_at.is_(None), clocks.c.met == true())
            columns += [
                func.count().filter(named).label(f"has_{index}"),
                func.count().filter(met).label(f"met_{index}"),
                func.count().filter(and_(named, clocks.c.breached_at.is_not(None)))
                .label(f"missed_{index}"),
            ]  # fmt: skip
            if name in timed:
                span = _span(clocks.c.started_at, clocks.c.stopped_at, postgres=True)
                columns.append(func.max(span).filter(named).label(f"span_{index}"))
        summary = select(*columns).group_by(clocks.c.case_id)
        return cls(scope.only_reported(summary, clocks, shared=False).subquery("clocks"), kept)

    def span(self, name: str) -> ColumnElement[Any]:
        if name not in self.names or f"span_{self.names.index(name)}" not in self.table.c:
            return null()
        return self.table.c[f"span_{self.names.index(name)}"]  # type: ignore[no-any-return]

    def has(self, name: str) -> ColumnElement[bool]:
        if name not in self.names:
            return false()
        return func.coalesce(self.table.c[f"has_{self.names.index(name)}"], 0) > 0

    def counted(self) -> list[Any]:
        """The per-case counts as columns of ``per_case`` (``c_<kind>_<index>``)."""
        return [
            func.coalesce(self.table.c[f"{kind}_{index}"], 0).label(f"c_{kind}_{index}")
            for index in range(len(self.names))
            for kind in COUNTED
        ]


def clock_names(session: Session) -> list[str]:
    """The clock names in use, by a skip through ``ix_kesu_clock_name`` (a probe per name)."""
    found = session.execute(
        text(
            "WITH RECURSIVE names(name) AS ("
            " SELECT min(name) FROM kesu_clock"
            " UNION ALL SELECT (SELECT min(k.name) FROM kesu_clock AS k WHERE k.name > names.name)"
            " FROM names WHERE names.name IS NOT NULL)"
            " SELECT name FROM names WHERE name IS NOT NULL"
        )
    )
    return [name for (name,) in found]


def _ones(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _totals(cases: Any, postgres: bool, clocks: ClockSummary | None = None) -> Select[Any]:
    columns: list[Any] = [
        cases.c.process,
        cases.c.grp,
        func.count().label("opened"),
        func.sum(cases.c.closed).label("closed"),
        func.min(cases.c.opened_at).label("first_opened"),
        func.count(cases.c.csat).label("csat_n"),
        func.coalesce(func.sum(cases.c.csat), 0).label("csat_total"),
        _ones(cases.c.csat >= 4).label("csat_4_or_5"),
        func.count(cases.c.nps).label("nps_n"),
        _ones(cases.c.nps >= 9).label("nps_promoters"),
        _ones(cases.c.nps <= 6).label("nps_detractors"),
        func.sum(cases.c.reviewed).label("reviewed"),
        func.sum(cases.c.reopened).label("reopened"),
    ]
    for index in range(len(clocks.names) if clocks is not None else 0):
        columns += [
            func.sum(cases.c[f"c_{kind}_{index}"]).label(f"sum_{kind}_{index}") for kind in COUNTED
        ]
    if postgres:
        for measure in MEASURES:
            value = cases.c[measure]
            # One sort per measure for the three: ceil(share * n) is the nearest rank, so 0.5
            # finds the lower middle and 0.5 + 2**-40 the upper one (n // 2 + 1) for any count
            # below 2**39; the float arithmetic is Python's (``reports.percentile``).
            shares = array([0.5, UPPER_MIDDLE, REPORT_SHARE], type_=Float)
            columns += [
                func.count(value).label(f"{measure}_n"),
                func.percentile_disc(shares).within_group(value).label(f"{measure}_ranks"),
            ]
    return select(*columns).group_by(cases.c.process, cases.c.grp)


def _high_rank(count: Any) -> Any:
    """The nearest rank of ``REPORT_SHARE``, ceil(share * count), in integers."""
    share = Fraction(REPORT_SHARE).limit_denominator(1000)
    return (share.numerator * count + share.denominator - 1) // share.denominator


def _ranked(cases: Any, measure: str) -> Select[Any]:
    """SQLite: each group's durations numbered in order, keeping the ranks the figures need."""
    value = cases.c[measure]
    within = (cases.c.process, cases.c.grp)
    numbered = (
        select(
            cases.c.process,
            cases.c.grp,
            value.label("value"),
            func.row_number().over(partition_by=within, order_by=value).label("rank"),
            func.count().over(partition_by=within).label("n"),
        )
        .where(value.is_not(None))
        .subquery()
    )
    rank, count = numbered.c.rank, numbered.c.n
    wanted = or_(rank == (count + 1) // 2, rank == count // 2 + 1, rank == _high_rank(count))
    return select(numbered.c.process, numbered.c.grp, rank, count, numbered.c.value).where(wanted)


def _times(count: int, ranks: Mapping[int, timedelta]) -> Times:
    if not count:
        return Times()
    lower, upper = ranks[(count + 1) // 2], ranks[count // 2 + 1]
    return Times(n=count, median=(lower + upper) / 2, p50=lower, p90=ranks[_high_rank(count)])


def _collect(
    session: Session,
    cases: Any,
    compliance: Select[Any] | ClockSummary,
    parties: Select[Any],
    postgres: bool,
) -> dict[tuple[str, str], _Group]:
    """Each group's figures: ``cases`` has a row per reported case (``per_case``);
    ``compliance`` counts clocks per group (or ``cases`` does, from a ``ClockSummary``);
    ``parties`` counts attributions per group."""
    groups: dict[tuple[str, str], _Group] = {}
    clocks = compliance if isinstance(compliance, ClockSummary) else None
    for totals in session.execute(_totals(cases, postgres, clocks)).mappings():
        summary = GroupSummary(
            totals["process"], totals["grp"], opened=totals["opened"], closed=int(totals["closed"]),
            csat_n=totals["csat_n"], csat_total=int(totals["csat_total"]),
            csat_4_or_5=int(totals["csat_4_or_5"]), nps_n=totals["nps_n"],
            nps_promoters=int(totals["nps_promoters"]),
            nps_detractors=int(totals["nps_detractors"]),
            reviewed=int(totals["reviewed"]), reopened=int(totals["reopened"]),
        )  # fmt: skip
        found = groups[totals["process"], totals["grp"]] = _Group(summary, totals["first_opened"])
        for measure in MEASURES if postgres else ():
            count = found.counts[measure] = totals[f"{measure}_n"]
            ranks = found.ranks[measure] = {}
            if count:  # the lower middle, the upper middle and the high rank's values
                lower, upper, high = totals[f"{measure}_ranks"]
                ranks[(count + 1) // 2] = lower
                ranks[count // 2 + 1] = upper
                ranks[_high_rank(count)] = high
        for index, name in enumerate(clocks.names if clocks is not None else ()):
            has, met, missed = (totals[f"sum_{kind}_{index}"] for kind in COUNTED)
            if has:
                summary.compliance[name] = [int(met), int(missed)]
    for measure in () if postgres else MEASURES:
        for row in session.execute(_ranked(cases, measure)):
            found = groups[row.process, row.grp]
            found.counts[measure] = row.n
            found.ranks.setdefault(measure, {})[row.rank] = _duration(row.value)
    if not isinstance(compliance, ClockSummary):
        for row in session.execute(compliance):
            met_missed = [int(row.met), int(row.missed)]
            groups[row.process, row.grp].summary.compliance[row.name] = met_missed
    for row in session.execute(parties):
        groups[row.process, row.grp].summary.responsibility[row.party] = row.n
    return groups


def _clock_counts(
    cases: Any, group: ColumnElement[str], where: list[ColumnElement[bool]]
) -> Select[Any]:
    """Met and missed per group and clock, over ``cases``' clock rows."""
    met = _ones(and_(CLOCKS.c.breached_at.is_(None), CLOCKS.c.met == true()))
    missed = _ones(CLOCKS.c.breached_at.is_not(None))
    return (
        select(
            cases.c.process,
            group.label("grp"),
            CLOCKS.c.name,
            met.label("met"),
            missed.label("missed"),
        )
        .select_from(cases.join(CLOCKS, CLOCKS.c.case_id == cases.c.case_id))
        .where(*where)
        .group_by(cases.c.process, group, CLOCKS.c.name)
        .order_by(CLOCKS.c.name)
    )


def _merging(
    groups: Iterable[tuple[str, str]], group: ColumnElement[str]
) -> ColumnElement[str] | None:
    """``group`` with the values that the report names alike (``"1"`` and ``1``, JSON null and
    ``"-"``) mapped onto one of them; None when every value has a name of its own."""
    seen: dict[tuple[str, str], str] = {}
    aliases: list[tuple[ColumnElement[bool], ColumnElement[str]]] = []
    for process, value in sorted(groups):
        kept = seen.setdefault((process, group_label(value)), value)
        if kept != value:
            aliases.append((and_(CASES.c.process == process, group == value), _text(kept)))
    return case(*aliases, else_=group) if aliases else None


def _in_database(
    session: Session, settings: ReportSettings, by: GroupBy, scope: _Scope
) -> dict[tuple[str, str], _Group]:
    """PostgreSQL: the figures in two statements over the reported cases, joined in bulk with
    a summary of their clocks and their review and reopening marks (the attributions are
    counted from the case rows)."""
    # Hashes and sorts of a million cases fit in REPORT_WORK_MEM rather than in many passes
    # over temporary files; memory stays bounded by it (never lowered below the server's).
    current = session.scalar(select(func.pg_size_bytes(func.current_setting("work_mem"))))
    if current is not None and int(current) < REPORT_WORK_MEM_BYTES:
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM_BYTES // 1024}kB'"))
    # JIT compiles each statement anew (seconds for the report's, measured at a million
    # cases) and saves less than that on a single pass; the report runs once.
    session.execute(text("SET LOCAL jit = off"))
    # In parallel, every worker summed up all the clocks again for its share of the cases
    # (the summary cannot be split between them): three times the work on two cores.
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    group = _group_value(settings, by, postgres=True)
    timed = settings.values(lambda r: r.first_response) | settings.values(lambda r: r.resolution)
    clocks = ClockSummary.build(clock_names(session), timed, scope)
    for _ in range(2):
        where = _filters(CASES, scope.process, scope.period)
        cases = per_case(settings, group, scope, postgres=True, clocks=clocks).subquery("per_case")
        party = CASES.c.latest_responsibility
        parties = (
            select(
                CASES.c.process, group.label("grp"), party.label("party"), func.count().label("n")
            )
            .where(*where, party.is_not(None))
            .group_by(CASES.c.process, group, party)
        )
        compliance = clocks
        groups = _collect(session, cases, compliance, parties, postgres=True)
        merged = _merging(groups, group) if by is not GroupBy.PROCESS else None
        if merged is None:
            break
        group = merged  # rare: once more with the values named alike as one
    return groups


def _through_a_table(
    session: Session, settings: ReportSettings, by: GroupBy, scope: _Scope
) -> dict[tuple[str, str], _Group]:
    """SQLite: the reported cases once into a temporary table (on disk past the page cache)
    that every figure then reads, so the per-case look-ups are done once."""
    create = CreateTableAs(
        per_case(settings, _group_value(settings, by, postgres=False), scope, postgres=False),
        f"kesu_report_{uuid.uuid4().hex[:12]}",
        temporary=True,
    )
    cases = create.table
    session.execute(create)
    try:
        if by is not GroupBy.PROCESS:
            _merge_alike(session, cases)
        parties = (
            select(cases.c.process, cases.c.grp, cases.c.party, func.count().label("n"))
            .where(cases.c.party.is_not(None))
            .group_by(cases.c.process, cases.c.grp, cases.c.party)
        )
        compliance = _clock_counts(cases, cases.c.grp, [])
        return _collect(session, cases, compliance, parties, postgres=False)
    finally:
        session.execute(DropTable(cases))


def _merge_alike(session: Session, cases: Table) -> None:
    """Give group values that the report names alike (``"1"`` and ``1``, JSON null and
    ``"-"``) one of them, so that they make one group."""
    seen: dict[tuple[str, str], str] = {}
    found = session.execute(select(cases.c.process, cases.c.grp).distinct())
    for process, value in sorted(tuple(row) for row in found):
        kept = seen.setdefault((process, group_label(value)), value)
        if kept != value:
            chosen = and_(cases.c.process == process, cases.c.grp == value)
            session.execute(update(cases).where(chosen).values(grp=kept))


def summarise_report(
    session: Session,
    settings: Mapping[str, Reporting] | ReportSettings,
    *,
    by: GroupBy = GroupBy.PROCESS,
    process: str | None = None,
    period: Period = EVERY_CASE,
) -> list[GroupSummary]:
    """``build_report``'s figures, each group in one row of a few aggregate statements."""
    chosen = _settings(session, settings)
    postgres = session.get_bind().dialect.name == "postgresql"
    scope = _Scope(process, period, per_case=not postgres)
    collect = _in_database if postgres else _through_a_table
    groups = collect(session, chosen, by, scope)
    ordered = sorted(
        groups.values(),
        key=lambda g: (g.summary.process, g.first_opened, group_label(g.summary.group or "")),
    )
    summaries = []
    for found in ordered:
        summary = found.summary
        if by is GroupBy.PROCESS:
            summary.group = None
        elif summary.group is not None:
            summary.group = group_label(summary.group)
        summary.first_response, summary.resolution = (
            _times(found.counts.get(measure, 0), found.ranks.get(measure, {}))
            for measure in MEASURES
        )
        summaries.append(summary)
    return summaries
