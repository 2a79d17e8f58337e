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

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Table,
    and_,
    case,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTableAs, DropTable

from process.spec import Reporting

from .report_rows import COUNTED, MEASURES, ClockSummary, clock_names, party_values, per_case
from .report_scope import (
    CASES,
    CLOCKS,
    EVERY_CASE,
    ReportSettings,
    Scope,
    duration,
    group_label,
    group_value,
    load_settings,
    text_value,
)
from .reports import REPORT_SHARE, GroupBy, GroupSummary, Period, Times

UPPER_MIDDLE = 0.5 + 2**-40
REPORT_WORK_MEM_BYTES = 64 * 1024 * 1024
"""What each of the report's hashes and sorts may hold in memory on PostgreSQL."""


@dataclass
class _Group:
    """One group's figures as the statements return them, keyed by (process, group value)."""

    summary: GroupSummary
    first_opened: Any
    ranks: dict[str, dict[int, timedelta]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _ones(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _totals(
    cases: Any, postgres: bool, clocks: ClockSummary | None = None, parties: tuple[str, ...] = ()
) -> Select[Any]:
    """Each group's figures over ``cases`` (``per_case``), with the compliance counts of
    ``clocks`` and the number of cases attributed to each of ``parties``, where given."""
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
    for index, party in enumerate(parties):
        columns.append(func.count().filter(cases.c.party == party).label(f"party_{index}"))
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
    parties: Select[Any] | tuple[str, ...],
    postgres: bool,
) -> dict[tuple[str, str], _Group]:
    """Each group's figures: ``cases`` has a row per reported case (``per_case``);
    ``compliance`` counts clocks per group (or ``cases`` does, from a ``ClockSummary``);
    ``parties`` counts attributions per group (or names the values ``cases`` counts)."""
    groups: dict[tuple[str, str], _Group] = {}
    clocks = compliance if isinstance(compliance, ClockSummary) else None
    counted = parties if isinstance(parties, tuple) else ()
    for totals in session.execute(_totals(cases, postgres, clocks, counted)).mappings():
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
        for index, party in enumerate(counted):
            if totals[f"party_{index}"]:
                summary.responsibility[party] = totals[f"party_{index}"]
    for measure in () if postgres else MEASURES:
        for row in session.execute(_ranked(cases, measure)):
            found = groups[row.process, row.grp]
            found.counts[measure] = row.n
            found.ranks.setdefault(measure, {})[row.rank] = duration(row.value)
    if not isinstance(compliance, ClockSummary):
        for row in session.execute(compliance):
            met_missed = [int(row.met), int(row.missed)]
            groups[row.process, row.grp].summary.compliance[row.name] = met_missed
    if not isinstance(parties, tuple):
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
            aliases.append((and_(CASES.c.process == process, group == value), text_value(kept)))
    return case(*aliases, else_=group) if aliases else None


def _in_database(
    session: Session, settings: ReportSettings, by: GroupBy, scope: Scope
) -> dict[tuple[str, str], _Group]:
    """PostgreSQL: every figure in one statement over the reported cases, joined in bulk with
    a summary of their clocks and with their review and reopening marks."""
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
    group = group_value(settings, by, postgres=True)
    timed = settings.values(lambda r: r.first_response) | settings.values(lambda r: r.resolution)
    clocks = ClockSummary.build(clock_names(session), timed, scope)
    parties = party_values(session)
    for _ in range(2):
        cases = per_case(settings, group, scope, postgres=True, clocks=clocks).subquery("per_case")
        groups = _collect(session, cases, clocks, parties, postgres=True)
        merged = _merging(groups, group) if by is not GroupBy.PROCESS else None
        if merged is None:
            break
        group = merged  # rare: once more with the values named alike as one
    return groups


def _through_a_table(
    session: Session, settings: ReportSettings, by: GroupBy, scope: Scope
) -> dict[tuple[str, str], _Group]:
    """SQLite: the reported cases once into a temporary table (on disk past the page cache)
    that every figure then reads, so the per-case look-ups are done once."""
    create = CreateTableAs(
        per_case(settings, group_value(settings, by, postgres=False), scope, postgres=False),
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
    chosen = load_settings(session, settings)
    postgres = session.get_bind().dialect.name == "postgresql"
    scope = Scope(process, period, per_case=not postgres)
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
