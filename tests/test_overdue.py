"""The overdue list from the case database against a computation in Python, on SQLite and
PostgreSQL: the same cases in the same order, page after page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.inputs import StepRecord
from activities.storage import CaseRow, ClockRow, make_engine
from activities.storage.migrations import alembic_config, migrate
from bench.case_records import generate
from service.overdue import OverdueCase, overdue_listing, overdue_page
from service.refusals import KesuError
from tests.records_support import T0, Script, store

MID_YEAR = datetime(2025, 7, 1, tzinfo=UTC)
LATER = datetime(2026, 12, 1, tzinfo=UTC)


def expected(session: Session, now: datetime, process: str | None = None) -> list[OverdueCase]:
    cases = {case.case_id: case for case in session.scalars(select(CaseRow))}
    first: dict[str, tuple[datetime, ClockRow]] = {}
    for clock in session.scalars(select(ClockRow)):
        case = cases[clock.case_id]
        if clock.due_at is None or clock.due_at >= now or case.closed_at is not None:
            continue
        if process is not None and case.process != process:
            continue
        kept = first.get(clock.case_id)
        if kept is None or (clock.due_at, clock.name) < (kept[0], kept[1].name):
            first[clock.case_id] = (clock.due_at, clock)
    found = [
        OverdueCase(
            clock.case_id,
            cases[clock.case_id].case_number,
            cases[clock.case_id].process,
            cases[clock.case_id].stage,
            clock.name,
            due_at,
            clock.breached_at is not None,
        )
        for due_at, clock in first.values()
    ]
    return sorted(found, key=lambda case: (case.due_at, case.case_id, case.clock))


def every_page(
    session: Session, now: datetime, size: int, process: str | None
) -> list[OverdueCase]:
    found: list[OverdueCase] = []
    token: bytes | None = None
    while True:
        page, token = overdue_listing(
            session, now, process=process, page_size=size, page_token=token
        )
        assert len(page) <= size
        found += page
        if token is None:
            return found


@pytest.mark.parametrize("now", [MID_YEAR, LATER])
@pytest.mark.parametrize("process", [None, "service_request"])
def test_pages_list_each_overdue_case_once_most_overdue_first(
    session_factory: sessionmaker[Session], now: datetime, process: str | None
) -> None:
    generate(session_factory.kw["bind"], 1000, batch_size=500)
    with session_factory() as session:
        wanted = expected(session, now, process)
        assert len(wanted) > 4
        assert every_page(session, now, 3, process) == wanted
        assert overdue_page(session, now, process=process, page_size=500).cases == wanted


def test_a_page_token_is_good_for_its_own_filters_only(
    session_factory: sessionmaker[Session],
) -> None:
    generate(session_factory.kw["bind"], 200, batch_size=200)
    with session_factory() as session:
        _, token = overdue_listing(session, LATER, page_size=2)
        assert token is not None
        with pytest.raises(KesuError, match="page token"):
            overdue_listing(session, LATER, process="complaint", page_token=token)
        with pytest.raises(KesuError, match="page_size"):
            overdue_page(session, LATER, page_size=0)


def test_each_case_keeps_its_clock_due_first(session_factory: sessionmaker[Session]) -> None:
    """``store_step`` keeps ``next_due_at``/``next_due_clock`` with the clock rows, step after
    step: the earliest running clock, the next one once it stops, none while the case is
    closed or once all have stopped."""
    script = Script("complaint-next-due", clocks=("response", "resolution"))
    due: list[tuple[datetime | None, str | None]] = []

    def stored(step: StepRecord) -> None:
        store(session_factory, step)
        with session_factory() as session:
            case = session.get(CaseRow, script.case_id)
            assert case is not None
            due.append((case.next_due_at, case.next_due_clock))

    stored(script.open())
    stored(script.step("accept", "triage", start=("response",)))
    stored(script.step("assign", "handling", after=timedelta(hours=1), start=("resolution",)))
    after_24h = T0 + timedelta(minutes=10, hours=24)
    with session_factory() as session:
        listed = overdue_page(session, after_24h + timedelta(seconds=1)).cases
        assert [(case.case_id, case.clock) for case in listed] == [(script.case_id, "response")]
    stored(script.step("respond", "handling", stop=("response",)))
    stored(script.step("close", "closed", final=True))  # resolution still running
    stored(script.step("reopen", "handling"))
    stored(script.step("resolve", "closed", missed=("resolution",)))
    assert due == [
        (None, None),
        (after_24h, "response"),
        (after_24h, "response"),
        (after_24h + timedelta(hours=1), "resolution"),
        (None, None),  # closed: not overdue, whatever still runs
        (after_24h + timedelta(hours=1), "resolution"),
        (None, None),
    ]


def test_the_migrations_fill_in_what_the_case_row_keeps(database_url: str) -> None:
    """Revisions 0010 and 0011 compute the case row's copies (the clock due first, the latest
    answers and attribution) for cases stored before them, as store_step would."""
    engine = make_engine(database_url)
    try:
        migrate(engine)
        generate(engine, 300, batch_size=300)
        columns = (
            CaseRow.case_id, CaseRow.next_due_at, CaseRow.next_due_clock,
            CaseRow.next_due_breached, CaseRow.latest_csat, CaseRow.latest_nps,
            CaseRow.latest_responsibility,
        )  # fmt: skip
        with Session(engine) as session:
            written = session.execute(select(*columns).order_by(CaseRow.case_id)).all()
        for kept in zip(*written, strict=True):
            assert any(value is not None for value in kept)
        assert any(row.latest_nps == 0 for row in written)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0009")
        migrate(engine)
        with Session(engine) as session:
            assert session.execute(select(*columns).order_by(CaseRow.case_id)).all() == written
    finally:
        engine.dispose()
