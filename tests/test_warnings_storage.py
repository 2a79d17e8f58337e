"""Early warnings in SQL (SQLite and PostgreSQL): counted as cases open, raised once per window,
queued in the outbox in the opening step's transaction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from activities.inputs import StepRecord
from activities.storage import (
    EarlyWarningRow,
    EarlyWarnings,
    OutboxRow,
    StorageActivities,
    list_warnings,
    make_engine,
    make_session_factory,
    store_step,
)
from activities.storage.migrations import migrate
from activities.storage.warnings import count_in_window, raise_warnings
from activities.templates import Renderer, TemplateCatalog
from process.loader import load_directory
from process.warnings import WarningRule, WarningRules

MONDAY = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a week's first day
RULES = WarningRules(
    {
        "cards": WarningRule(
            processes=["complaint"], count_by="category", values=["card"], at_least=3,
            window="7d", notify=["supervisor", "manager"], title="银行卡投诉集中",
        ),
        "branches": WarningRule(
            processes=["complaint"], count_by="branch", at_least=2, window="1d",
            notify=["manager"],
        ),
    }
)  # fmt: skip


def opening(case_id: str, at: datetime, **fields: Any) -> StepRecord:
    return StepRecord(
        case_id=case_id, seq=0, process="complaint", version=1, content_hash="sha256:abc",
        event="case.opened", from_stage=None, to_stage="intake", actor="web",
        fields={"customer_id": "C-1", **fields}, at=at,
    )  # fmt: skip


def store(activities: StorageActivities, step: StepRecord) -> int:
    return activities.record_step(step).messages_queued


def warning_messages(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.template == "early_warning"))
        return [(row.recipient, row.case_id, row.idempotency_key) for row in rows]


@pytest.fixture
def activities(session_factory: sessionmaker[Session]) -> StorageActivities:
    return StorageActivities(session_factory, opened=EarlyWarnings(RULES))


def test_the_nth_case_in_a_window_raises_one_warning_and_no_more(
    activities: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    queued = [
        store(activities, opening(f"c{n}", MONDAY + timedelta(hours=n), category="card"))
        for n in range(5)
    ]
    assert queued == [0, 0, 2, 0, 0]  # the third case tips it: one message per recipient
    messages = warning_messages(session_factory)
    assert [(recipient, case) for recipient, case, _ in messages] == [
        ("supervisor", "c2"), ("manager", "c2"),
    ]  # fmt: skip
    with session_factory() as session:
        (row,) = list_warnings(session)
        assert (row.rule, row.key, row.count, row.case_id) == ("cards", "card", 3, "c2")
        assert row.window_start == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # Monday, Shanghai
        assert row.window_end - row.window_start == timedelta(days=7)
        assert row.recipients == ["supervisor", "manager"]
        assert count_in_window(session, "cards", "card", row.window_start) == 5
        params = session.scalars(select(OutboxRow.params)).first()
        assert params is not None and params["warning"]["title"] == "银行卡投诉集中"


def test_the_next_window_counts_afresh_and_other_values_apart(
    activities: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    for n in range(3):
        store(activities, opening(f"w1-{n}", MONDAY + timedelta(hours=n), category="card"))
    next_week = MONDAY + timedelta(days=7)
    for n in range(2):
        store(activities, opening(f"w2-{n}", next_week + timedelta(hours=n), category="card"))
        store(activities, opening(f"loan-{n}", MONDAY, category="loan"))  # not counted
    assert len(warning_messages(session_factory)) == 2  # week 2 holds only two so far
    store(activities, opening("w2-2", next_week + timedelta(days=6, hours=14), category="card"))
    with session_factory() as session:
        assert [(row.case_id, row.count) for row in list_warnings(session)] == [
            ("w2-2", 3), ("w1-2", 3),
        ]  # fmt: skip


def test_one_case_can_tip_two_rules_and_a_retried_step_counts_nothing_twice(
    activities: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    store(activities, opening("a", MONDAY, category="card", branch="浦东支行"))
    store(activities, opening("b", MONDAY, category="card", branch="静安支行"))
    tipping = opening("c", MONDAY, category="card", branch="浦东支行")
    assert store(activities, tipping) == 3  # cards: 2 recipients, branches: 1
    assert store(activities, tipping) == 0  # a retry: already stored
    with session_factory() as session:
        raised = {row.rule: row for row in list_warnings(session)}
        assert sorted(raised) == ["branches", "cards"]
        assert (raised["branches"].key, raised["branches"].count) == ("浦东支行", 2)
        assert raised["branches"].window_end - raised["branches"].window_start == timedelta(days=1)
    assert len(warning_messages(session_factory)) == 3


def test_a_raised_warning_is_unique_in_sql(session_factory: sessionmaker[Session]) -> None:
    values: dict[str, Any] = {
        "rule": "cards", "key": "card", "window_start": MONDAY, "window_end": MONDAY,
        "count": 3, "case_id": "x", "raised_at": MONDAY, "recipients": [],
    }  # fmt: skip
    with session_factory.begin() as session:
        session.add(EarlyWarningRow(**values))
    with pytest.raises(IntegrityError), session_factory.begin() as session:
        session.add(EarlyWarningRow(**{**values, "case_id": "y"}))


def test_without_rules_nothing_is_counted(session_factory: sessionmaker[Session]) -> None:
    plain = StorageActivities(session_factory)
    for n in range(4):
        assert store(plain, opening(f"p{n}", MONDAY, category="card")) == 0
    with session_factory() as session:
        assert list_warnings(session) == []


def test_the_warning_renders_in_both_languages(
    activities: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    for n in range(3):
        store(activities, opening(f"r{n}", MONDAY, category="card"))
    with session_factory() as session:
        params = session.scalars(select(OutboxRow.params)).first()
    assert params is not None
    folder = Path(__file__).parent.parent / "definitions"
    renderer = Renderer(TemplateCatalog.load(folder / "templates"), load_directory(folder))
    chinese = renderer.render("early_warning", params)
    assert chinese.subject == "【投诉预警】银行卡投诉集中：category = card，已有 3 件"
    english = renderer.render("early_warning", {**params, "fields": {"language": "en"}})
    assert english.subject == "[Early warning] 银行卡投诉集中: category = card, 3 cases"
    assert "r2" in english.body and "2026-11-30T00:00:00+08:00" in english.body


BOTH = WarningRules(
    {
        "cards": RULES.rules["cards"].model_copy(
            update={"processes": ["complaint", "bank_complaint"]}
        )
    }
)


@pytest.mark.postgres
def test_two_openings_racing_for_one_warning_raise_it_once(postgres_database: str) -> None:
    """PostgreSQL, read committed: both racers count three; the second waits on the first's
    unique warning, fails, and its retry (as Temporal retries the activity) raises nothing.
    (Openings of one process already queue behind each other for their case numbers.)"""
    engine = make_engine(postgres_database)
    migrate(engine)
    sessions = make_session_factory(engine)
    racer = StorageActivities(sessions, opened=EarlyWarnings(BOTH))
    try:
        for n in range(2):
            store(racer, opening(f"early-{n}", MONDAY, category="card"))
        first = opening("c1", MONDAY, category="card")
        # Another process (another case-number sequence): nothing else makes it wait.
        second = opening("c2", MONDAY, category="card").model_copy(
            update={"process": "bank_complaint"}
        )
        failures: list[BaseException] = []

        def second_racer() -> None:
            try:
                racer.record_step(second)
            except ApplicationError as error:
                failures.append(error)

        with sessions.begin() as session:
            store_step(session, first)
            assert raise_warnings(session, BOTH, first) == 2  # not committed yet
            holder = session.scalar(text("SELECT pg_backend_pid()"))
            thread = threading.Thread(target=second_racer)
            thread.start()
            with engine.connect() as watcher:  # until the second racer waits on our lock
                blocked = text("SELECT count(*) FROM pg_stat_activity "
                               "WHERE :holder = ANY(pg_blocking_pids(pid))")  # fmt: skip
                while not watcher.execute(blocked, {"holder": holder}).scalar():
                    watcher.rollback()
                    assert thread.is_alive(), failures
        thread.join()
        assert len(failures) == 1  # refused by the unique warning: retryable, not stored
        assert racer.record_step(second).messages_queued == 0  # the retry
        with sessions() as session:
            (raised,) = list_warnings(session)
            assert (raised.case_id, raised.count) == ("c1", 3)
            assert count_in_window(session, "cards", "card", raised.window_start) == 4
        assert len(warning_messages(sessions)) == 2
    finally:
        engine.dispose()
