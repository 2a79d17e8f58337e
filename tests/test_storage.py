"""``record_step`` and the read helpers, on SQLite and PostgreSQL (see ``database_url``)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from activities.inputs import STEP_NOT_STORABLE, OutboxMessage, StepRecord, StepRecorded
from activities.storage import (
    CaseEventRow,
    CaseRow,
    OutboxRow,
    StorageActivities,
    get_case,
    list_events,
    list_outbox,
    store_step,
)
from activities.storage import steps as storage_module

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CASE = "complaint-42"
STAGES = ["received", "triage", "investigating", "resolved", "closed"]


def make_step(
    seq: int,
    *,
    case_id: str = CASE,
    final: bool = False,
    fields: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    messages: list[OutboxMessage] | None = None,
    at: datetime | None = None,
) -> StepRecord:
    """Step ``seq`` of a case moving through STAGES, one minute after the previous one."""
    return StepRecord(
        case_id=case_id,
        seq=seq,
        process="complaint",
        version=1,
        content_hash="sha256:abc",
        event="case.opened" if seq == 0 else f"advance-{seq}",
        from_stage=None if seq == 0 else STAGES[seq - 1],
        to_stage=STAGES[seq],
        actor="li",
        role="agent",
        data=data if data is not None else {"note": f"step {seq}"},
        fields=fields if fields is not None else {"customer_id": "C-1", "step": seq},
        at=at if at is not None else T0 + timedelta(minutes=seq),
        final=final,
        messages=messages if messages is not None else [],
    )


def ack(**params: Any) -> OutboxMessage:
    return OutboxMessage(recipient="customer", template="acknowledged", params=params)


@pytest.fixture
def storage(session_factory: sessionmaker[Session]) -> StorageActivities:
    return StorageActivities(session_factory)


def count(sessions: sessionmaker[Session], row: type[CaseRow | CaseEventRow | OutboxRow]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(row)) or 0


def test_first_step_creates_case_event_and_outbox(
    storage: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    messages = [ack(name="A"), OutboxMessage(recipient="supervisor", template="new_case")]
    result = storage.record_step(make_step(0, messages=messages))

    assert result == StepRecorded(created=True, messages_queued=2)
    with session_factory() as session:
        case = get_case(session, CASE)
        assert case is not None
        assert (case.process, case.version, case.content_hash) == ("complaint", 1, "sha256:abc")
        assert (case.stage, case.last_seq, case.closed_at) == ("received", 0, None)
        assert case.opened_at == case.updated_at == T0
        assert case.fields == {"customer_id": "C-1", "step": 0}
        [event] = list_events(session, CASE)
        assert (event.seq, event.event, event.from_stage, event.to_stage) == (
            0,
            "case.opened",
            None,
            "received",
        )
        assert (event.actor, event.role, event.data) == ("li", "agent", {"note": "step 0"})
        outbox = list_outbox(session, CASE)
    assert [(m.idempotency_key, m.recipient, m.template) for m in outbox] == [
        (f"{CASE}:0:0", "customer", "acknowledged"),
        (f"{CASE}:0:1", "supervisor", "new_case"),
    ]
    assert all(m.status == "pending" and m.attempts == 0 for m in outbox)
    assert outbox[0].params == {"name": "A"} and outbox[1].params == {}


def test_a_step_recorded_twice_is_stored_once(
    storage: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    storage.record_step(make_step(0, messages=[ack()]))
    # The retry of an attempt whose commit succeeded but whose reply was lost.
    again = storage.record_step(make_step(0, messages=[ack()], at=T0 + timedelta(hours=1)))

    assert again == StepRecorded(created=False, messages_queued=0)
    assert count(session_factory, CaseEventRow) == 1
    assert count(session_factory, OutboxRow) == 1
    with session_factory() as session:
        case = get_case(session, CASE)
        assert case is not None and case.updated_at == T0


@pytest.mark.parametrize("seq", [0, 1], ids=["opening-step", "later-step"])
def test_racing_duplicates_store_one_row(
    storage: StorageActivities, session_factory: sessionmaker[Session], seq: int
) -> None:
    if seq:
        storage.record_step(make_step(0))
    racers = 6
    barrier = threading.Barrier(racers)
    results: list[StepRecorded] = []
    errors: list[BaseException] = []

    def race() -> None:
        barrier.wait()
        try:
            results.append(storage.record_step(make_step(seq, messages=[ack(), ack()])))
        except BaseException as error:  # reported below, with the test's own assertion
            errors.append(error)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(r.created for r in results) == [False] * (racers - 1) + [True]
    assert sum(r.messages_queued for r in results) == 2
    assert count(session_factory, CaseEventRow) == seq + 1
    assert count(session_factory, OutboxRow) == 2
    assert count(session_factory, CaseRow) == 1


def test_steps_update_stage_last_seq_and_closed_at(
    storage: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    last = len(STAGES) - 1
    for seq in range(last + 1):
        storage.record_step(make_step(seq, final=seq == last))
        with session_factory() as session:
            case = get_case(session, CASE)
            assert case is not None
            assert (case.stage, case.last_seq) == (STAGES[seq], seq)
            assert case.updated_at == T0 + timedelta(minutes=seq)
            assert case.opened_at == T0
            assert case.closed_at == (T0 + timedelta(minutes=last) if seq == last else None)
            assert case.fields["step"] == seq

    with session_factory() as session:
        assert [e.seq for e in list_events(session, CASE)] == list(range(last + 1))
        assert [e.to_stage for e in list_events(session, CASE)] == STAGES


def test_a_late_older_step_does_not_roll_the_case_back(
    storage: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    storage.record_step(make_step(0))
    storage.record_step(make_step(2))
    assert storage.record_step(make_step(1)).created

    with session_factory() as session:
        case = get_case(session, CASE)
        assert case is not None
        assert (case.stage, case.last_seq) == ("investigating", 2)
        assert [e.seq for e in list_events(session, CASE)] == [0, 1, 2]


def test_chinese_text_round_trips(
    storage: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    fields = {"客户姓名": "张伟", "问题描述": "快递丢失，要求退款。", "标签": ["物流", "紧急"]}
    data = {"备注": "客户来电，情绪激动"}
    storage.record_step(make_step(0, fields=fields, data=data, messages=[ack(称呼="张先生")]))

    with session_factory() as session:
        case = get_case(session, CASE)
        assert case is not None and case.fields == fields
        assert list_events(session, CASE)[0].data == data
        assert list_outbox(session, CASE)[0].params == {"称呼": "张先生"}
        # Stored as text, not as \u escapes: an operator can read it in the database.
        stored = session.execute(text("SELECT CAST(fields AS TEXT) FROM kesu_case")).scalar_one()
        assert "张伟" in stored


def test_timestamps_are_timezone_aware_utc(
    storage: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    beijing = timezone(timedelta(hours=8))
    at = datetime(2026, 11, 23, 17, 30, 15, 123456, tzinfo=beijing)
    storage.record_step(make_step(0, at=at, final=True, messages=[ack()]))

    with session_factory() as session:
        case = get_case(session, CASE)
        assert case is not None
        event = list_events(session, CASE)[0]
        message = list_outbox(session, CASE)[0]
    for value in (case.opened_at, case.updated_at, case.closed_at, event.at, message.created_at):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
        assert value == at  # the same instant, microseconds included
    assert case.opened_at.hour == 9


def test_a_naive_timestamp_is_refused(
    storage: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    # A fault of the data, not of the database: retrying cannot help, so it is final.
    with pytest.raises(ApplicationError, match="the database refuses its data") as caught:
        storage.record_step(make_step(0, at=datetime(2026, 11, 23, 9, 0)))
    assert caught.value.type == STEP_NOT_STORABLE and caught.value.non_retryable
    assert count(session_factory, CaseRow) == 0
    with pytest.raises(StatementError, match="naive datetime"), session_factory.begin() as s:
        store_step(s, make_step(0, at=datetime(2026, 11, 23, 9, 0)))


def test_a_failing_step_leaves_nothing_behind(
    storage: StorageActivities, session_factory: sessionmaker[Session]
) -> None:
    storage.record_step(make_step(0))
    # The message cannot be stored (not JSON), after the case row was already updated.
    broken = OutboxMessage(recipient="customer", template="x", params={"bad": object()})
    # SQLAlchemy wraps the encoder's TypeError on SQLite; psycopg raises it as it is. Either
    # way the data is at fault: the step fails for good, naming only the error's class.
    with pytest.raises(ApplicationError, match=r"step 1 cannot be stored.*TypeError") as caught:
        storage.record_step(make_step(1, messages=[ack(), broken]))
    assert caught.value.non_retryable

    with session_factory() as session:
        case = get_case(session, CASE)
        assert case is not None and (case.stage, case.last_seq) == ("received", 0)
    assert count(session_factory, CaseEventRow) == 1
    assert count(session_factory, OutboxRow) == 0


def test_logs_name_the_step_but_hold_no_customer_data(
    storage: StorageActivities, caplog: pytest.LogCaptureFixture
) -> None:
    secret_fields = {"phone": "13800138000"}
    secret_data = {"address": "北京市朝阳区"}
    secret_params = {"name": "张伟"}
    with caplog.at_level(logging.DEBUG):
        storage.record_step(
            make_step(0, fields=secret_fields, data=secret_data, messages=[ack(**secret_params)])
        )
        storage.record_step(make_step(0, fields=secret_fields, data=secret_data))
        conflicting = make_step(0, fields=secret_fields, data=secret_data)
        storage.record_step(conflicting.model_copy(update={"event": "other"}))

    assert CASE in caplog.text and "received" in caplog.text
    assert "different" in caplog.text  # the conflicting duplicate is reported
    for secret in ("13800138000", "北京市朝阳区", "张伟"):
        assert secret not in caplog.text


def test_read_helpers(storage: StorageActivities, session_factory: sessionmaker[Session]) -> None:
    storage.record_step(make_step(0, messages=[ack()]))
    storage.record_step(make_step(0, case_id="complaint-other", messages=[ack()]))
    storage.record_step(make_step(1, messages=[ack(), ack()]))

    with session_factory() as session:
        assert get_case(session, "complaint-missing") is None
        assert list_events(session, "complaint-missing") == []
        assert [e.seq for e in list_events(session, CASE)] == [0, 1]
        keys = [m.idempotency_key for m in list_outbox(session, CASE)]
    assert keys == [f"{CASE}:0:0", f"{CASE}:1:0", f"{CASE}:1:1"]


def test_a_duplicate_past_the_check_is_stopped_by_the_unique_key(
    storage: StorageActivities,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage.record_step(make_step(0, messages=[ack()]))
    # Deterministically what a race does: the existence check misses the step that another
    # attempt is committing, so only the (case_id, seq) constraint can stop the duplicate.
    real_check = storage_module._stored_event
    calls: list[int] = []

    def check_that_misses_once(session: Session, case_id: str, seq: int) -> CaseEventRow | None:
        calls.append(seq)
        return None if len(calls) == 1 else real_check(session, case_id, seq)

    monkeypatch.setattr(storage_module, "_stored_event", check_that_misses_once)

    again = storage.record_step(make_step(0, messages=[ack()]))

    assert again == StepRecorded(created=False, messages_queued=0)
    assert len(calls) == 2  # the missed check, then the one after the IntegrityError
    assert count(session_factory, CaseEventRow) == 1
    assert count(session_factory, OutboxRow) == 1
