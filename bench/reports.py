"""Reports at scale: ``starter.py report`` against one plain ``GROUP BY`` over the same cases.

``python -m bench.reports [--rows 100000] [--postgres [--rows 1000000] [--schema NAME]]
[--repeat 3] [--python]``

Synthetic case records (``bench.case_records``: steps, clocks, answers, attributions) go
into kesu's own schema, built by its migrations: a SQLite file by default, a schema of its own
on PostgreSQL with ``--postgres`` (``KESU_BENCH_POSTGRES_URL``, default the test server),
dropped afterwards. Then, for the whole table and for one month (``--since/--until`` by opening
date), the report by team (``summarise_report``, what the CLI runs) and the baseline in the
same run: one plain ``GROUP BY`` over the same case and clock rows (by process, team and clock:
cases, closed, met, missed), the counts without percentiles, latest answers or marks. A
``GROUP BY`` of the case rows alone is shown beside it for scale (no target).
Times are medians of ``--repeat`` alternating runs; memory is the peak of Python's heap
(``tracemalloc``) while each runs, measured in a separate run. ``--python`` also times the old
computation (``build_report``: every row into Python). ``--schema NAME`` keeps the PostgreSQL
schema for the next run, which then migrates it and reuses its cases (generating a million
takes minutes) instead of generating them again.

The overdue list (``service.overdue``, what ``GET /overdue`` serves) walks ``OVERDUE_PAGES``
pages of ``OVERDUE_PAGE`` cases; its baseline in the same run is the plain indexed query
walking as many pages of running clocks by due time (keyset) from their index alone: no case
rows read, and a case with two clocks past due listed twice.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    Text,
    and_,
    case,
    cast,
    create_engine,
    func,
    make_url,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from activities.storage import CaseRow, ClockRow, make_engine, make_session_factory
from activities.storage.migrations import migrate
from bench.case_records import generate
from bench.common import Ratio, Report, in_turn, median, ms
from service.overdue import overdue_listing
from service.report_sql import REPORT_WORK_MEM_BYTES, summarise_report
from service.reports import GroupBy, Period, build_report

TARGET = 3.0
POSTGRES_URL = os.environ.get(
    "KESU_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MONTH = Period(since=datetime(2025, 6, 1, tzinfo=UTC), until=datetime(2025, 7, 1, tzinfo=UTC))
SCOPES = {"whole table": Period(), "one month": MONTH}


def _team(cases: Any) -> Any:
    return cast(cases.c.fields.op("->", return_type=Text)("team"), Text)


def _opened_in(query: Any, cases: Any, period: Period) -> Any:
    if period.since is not None:
        query = query.where(cases.c.opened_at >= period.since)
    if period.until is not None:
        query = query.where(cases.c.opened_at < period.until)
    return query


def plain_group_by(session: Session, period: Period) -> list[Any]:
    """The baseline: one GROUP BY of the same cases and their clock rows (the bulk of what
    the report reads) by process, team and clock, counting cases, closed, met and missed."""
    cases, clocks = CaseRow.__table__, ClockRow.__table__
    team = _team(cases)
    query = select(
        cases.c.process, team, clocks.c.name, func.count(), func.count(cases.c.closed_at),
        func.sum(case((and_(clocks.c.breached_at.is_(None), clocks.c.met == true()), 1), else_=0)),
        func.count(clocks.c.breached_at),
    ).select_from(cases.join(clocks, clocks.c.case_id == cases.c.case_id))  # fmt: skip
    query = _opened_in(query, cases, period)
    return list(session.execute(query.group_by(cases.c.process, team, clocks.c.name)))


def cases_alone(session: Session, period: Period) -> list[Any]:
    """For scale: one GROUP BY of the case rows alone, counting opened and closed."""
    cases = CaseRow.__table__
    team = _team(cases)
    query = select(cases.c.process, team, func.count(), func.count(cases.c.closed_at))
    query = _opened_in(query, cases, period)
    return list(session.execute(query.group_by(cases.c.process, team)))


def kesu_report(session: Session, period: Period) -> list[Any]:
    return list(summarise_report(session, {}, by=GroupBy.TEAM, period=period))


def python_report(session: Session, period: Period) -> list[Any]:
    return list(build_report(session, {}, by=GroupBy.TEAM, period=period))


OVERDUE_PAGE = 50
OVERDUE_PAGES = 20
NOW = datetime(2026, 1, 1, tzinfo=UTC)
"""After every synthetic case opened: all their running clocks are past due."""


def overdue_pages(session: Session, _: Period) -> list[Any]:
    """``OVERDUE_PAGES`` pages of the overdue list, each from the last one's token."""
    found: list[Any] = []
    token: bytes | None = None
    for _page in range(OVERDUE_PAGES):
        cases, token = overdue_listing(session, NOW, page_size=OVERDUE_PAGE, page_token=token)
        found += cases
        if token is None:
            break
    return found


def plain_due_pages(session: Session, _: Period) -> list[Any]:
    """The baseline: as many pages of running clocks past due, by due time, keyset."""
    clocks = ClockRow.__table__
    key = (clocks.c.due_at, clocks.c.case_id, clocks.c.name)
    found: list[Any] = []
    after: Any = None
    for _page in range(OVERDUE_PAGES):
        query = select(*key).where(clocks.c.due_at.is_not(None), clocks.c.due_at < NOW)
        if after is not None:
            query = query.where(tuple_(*key) > tuple_(*after))
        rows = session.execute(query.order_by(*key).limit(OVERDUE_PAGE)).all()
        found += rows
        if len(rows) < OVERDUE_PAGE:
            break
        after = tuple(rows[-1])
    return found


Action = Callable[[Session, Period], list[Any]]


def _session(engine: Engine) -> Session:
    """A session; on PostgreSQL with the report's work_mem, so that both sides get it."""
    session = make_session_factory(engine)()
    if engine.dialect.name == "postgresql":
        session.execute(text(f"SET work_mem = '{REPORT_WORK_MEM_BYTES // 1024}kB'"))
    return session


def _seconds(engine: Engine, action: Action, period: Period) -> float:
    with _session(engine) as session:
        started = time.perf_counter()
        action(session, period)
        return time.perf_counter() - started


def _peak_bytes(engine: Engine, action: Action, period: Period) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        with _session(engine) as session:
            action(session, period)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@contextmanager
def _database(postgres: bool, workdir: Path, kept: str | None = None) -> Iterator[Engine]:
    if not postgres:
        engine = make_engine(f"sqlite:///{workdir / 'reports.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    schema = kept or f"kesu_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        if kept is None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(
    rows: int = 100_000,
    *,
    postgres: bool = False,
    repeat: int = 3,
    python: bool = False,
    workdir: Path | None = None,
    schema: str | None = None,
) -> Report:
    with (
        tempfile.TemporaryDirectory(prefix="kesu-bench-reports-") as scratch,
        _database(postgres, workdir or Path(scratch), schema) as engine,
    ):
        migrate(engine)
        with make_session_factory(engine)() as session:
            present = session.scalar(select(func.count()).select_from(CaseRow))
        if present and present != rows:
            raise SystemExit(f"schema {schema} holds {present:,} cases, not {rows:,}")
        started = time.perf_counter()
        if not present:
            generate(engine, rows)
        filled = time.perf_counter() - started
        # As autovacuum leaves a table in use: statistics, and PostgreSQL's visibility map
        # (without which no scan is index-only).
        analyze = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(analyze))
        return _compare(engine, rows, filled, repeat, python)


def _compare(engine: Engine, rows: int, filled: float, repeat: int, python: bool) -> Report:
    name = engine.dialect.name
    report = Report(
        title=f"Reports: {rows:,} synthetic cases on {name} (median of {repeat})",
        headers=["scope", "what", "ms", "Python heap peak KiB"],
        notes=[f"generated {rows:,} cases with their rows in {filled:.1f} s"],
    )
    variants: dict[str, Action] = {
        "plain GROUP BY (cases and clocks)": plain_group_by,
        "GROUP BY of the cases alone": cases_alone,
        "kesu report": kesu_report,
    }
    if python:
        variants["old report (every row in Python)"] = python_report
    for scope, period in SCOPES.items():
        times: dict[str, list[float]] = {variant: [] for variant in variants}
        for round_ in range(repeat):
            for variant in in_turn(variants, round_):
                times[variant].append(_seconds(engine, variants[variant], period))
        medians = {variant: median(values) for variant, values in times.items()}
        for variant, action in variants.items():
            peak = _peak_bytes(engine, action, period)
            report.rows.append([scope, variant, ms(medians[variant]), f"{peak / 1024:,.0f}"])
            report.figures[f"{scope}:{variant}:seconds"] = medians[variant]
            report.figures[f"{scope}:{variant}:peak_bytes"] = peak
        ratio = medians["kesu report"] / medians["plain GROUP BY (cases and clocks)"]
        report.ratios.append(Ratio(f"{scope}: kesu report ÷ plain GROUP BY", ratio, TARGET))
        alone = medians["kesu report"] / medians["GROUP BY of the cases alone"]
        report.ratios.append(Ratio(f"{scope}: kesu report ÷ GROUP BY of the cases alone", alone))
        report.figures[f"{scope}:ratio"] = ratio
    _compare_overdue(engine, report, repeat)
    return report


def _compare_overdue(engine: Engine, report: Report, repeat: int) -> None:
    variants: dict[str, Action] = {
        "plain indexed query (running clocks by due time)": plain_due_pages,
        "kesu overdue list": overdue_pages,
    }
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    for action in variants.values():  # pages read once: both from the cache, not the disk
        _seconds(engine, action, Period())
    for round_ in range(repeat):
        for variant in in_turn(variants, round_):
            times[variant].append(_seconds(engine, variants[variant], Period()))
    scope = f"overdue, {OVERDUE_PAGES} pages of {OVERDUE_PAGE}"
    medians = {variant: median(values) for variant, values in times.items()}
    for variant, action in variants.items():
        peak = _peak_bytes(engine, action, Period())
        report.rows.append([scope, variant, ms(medians[variant]), f"{peak / 1024:,.0f}"])
        report.figures[f"{scope}:{variant}:seconds"] = medians[variant]
    ratio = medians["kesu overdue list"] / medians[next(iter(variants))]
    report.ratios.append(Ratio(f"{scope}: kesu overdue list ÷ plain indexed query", ratio, TARGET))
    report.figures["overdue:ratio"] = ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="cases (default 100,000)")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, not SQLite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python", action="store_true", help="also time the old computation")
    parser.add_argument("--schema", help="PostgreSQL: keep (and reuse) the cases in this schema")
    args = parser.parse_args(argv)
    rows = args.rows or 100_000
    if rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    if args.schema is not None and not args.postgres:
        parser.error("--schema needs --postgres")
    found = measure(
        rows, postgres=args.postgres, repeat=args.repeat, python=args.python, schema=args.schema
    )
    print(found.render(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
