"""One row per reported case with what the report's figures need of it (``per_case``), and
the pieces it is joined from: the review and reopening marks, and on PostgreSQL a summary of
each case's clocks (``ClockSummary``) in one pass over them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    null,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from activities.storage import ClockRow
from process.spec import Reporting

from .report_scope import CASES, EVENTS, ReportSettings, Scope, reported_filters, span, text_value

Joins = list[tuple[Any, ColumnElement[bool]]]
MEASURES = ("first_response", "resolution")
Names = Callable[[Reporting], tuple[str, ...]]
MARKS: tuple[tuple[Names, Any], ...] = (
    (lambda r: tuple(r.review_stages), EVENTS.c.to_stage),
    (lambda r: tuple(r.reopen_events), EVENTS.c.event),
)
"""What counts a case as reviewed (a stage it entered) and as reopened (an event it took)."""


def marks(settings: ReportSettings, scope: Scope) -> tuple[Joins, list[ColumnElement[int]]]:
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
    scope: Scope,
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
        first_name = settings.choose(lambda r: r.first_response, text_value)
        last_name = settings.choose(lambda r: r.resolution, text_value)
        joined = joined.outerjoin(
            first, and_(first.c.case_id == CASES.c.case_id, first.c.name == first_name)
        ).outerjoin(last, and_(last.c.case_id == CASES.c.case_id, last.c.name == last_name))
        first_response = span(first.c.started_at, first.c.stopped_at, postgres)
        # Without a resolution clock, resolution runs from opening to closing.
        resolution: ColumnElement[Any] = case(
            (last.c.case_id.is_(None), span(CASES.c.opened_at, CASES.c.closed_at, postgres)),
            else_=span(last.c.started_at, last.c.stopped_at, postgres),
        )
        counted: list[Any] = []
    else:
        joined = joined.outerjoin(clocks.table, clocks.on)
        first_response = settings.choose(lambda r: r.first_response, clocks.span)
        resolution = settings.choose(
            lambda r: r.resolution,
            lambda name: case(
                (clocks.has(name), clocks.span(name)),
                else_=span(CASES.c.opened_at, CASES.c.closed_at, postgres),
            ),
        )
        counted = clocks.counted()
    mark_joins, (reviewed, reopened) = marks(settings, scope)
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
        .where(*reported_filters(CASES, scope.process, scope.period))
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
    on: ColumnElement[bool]
    """How ``table`` joins the case it sums up."""

    @classmethod
    def build(cls, names: Iterable[str], timed: set[str], scope: Scope) -> ClockSummary:
        clocks = ClockRow.__table__
        kept = tuple(sorted(names))
        columns: list[Any] = []
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
                running = span(clocks.c.started_at, clocks.c.stopped_at, postgres=True)
                columns.append(func.max(running).filter(named).label(f"span_{index}"))
        if scope.narrowed:
            # A month of cases: each case's clocks through their key (a probe per case), not
            # every clock of every case hashed or scanned for the few reported.
            of_case = select(*columns).where(clocks.c.case_id == CASES.c.case_id)
            return cls(of_case.lateral("clocks"), kept, true())
        every = select(clocks.c.case_id, *columns).group_by(clocks.c.case_id).subquery("clocks")
        return cls(every, kept, every.c.case_id == CASES.c.case_id)

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
    return _in_use(session, "kesu_clock", "name")


def party_values(session: Session) -> tuple[str, ...]:
    """The attributions (责任认定) ever given, by a skip through their index (migration 0011)."""
    return tuple(_in_use(session, "kesu_responsibility", "responsibility"))


def _in_use(session: Session, table: str, column: str) -> list[str]:
    """The distinct values of an indexed column, one index probe per value (PostgreSQL has
    no skip scan of its own: a recursive query takes the next value above the last)."""
    found = session.execute(
        text(
            f"WITH RECURSIVE found(value) AS (SELECT min({column}) FROM {table}"
            f" UNION ALL SELECT (SELECT min(t.{column}) FROM {table} AS t"
            f" WHERE t.{column} > found.value) FROM found WHERE found.value IS NOT NULL)"
            " SELECT value FROM found WHERE value IS NOT NULL"
        )
    )
    return [value for (value,) in found]
