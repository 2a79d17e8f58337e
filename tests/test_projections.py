"""What ``store_step`` derives from steps, on SQLite and PostgreSQL: case numbers, assignments,
clocks, satisfaction and responsibility rows; and that a retry after a commit writes nothing
twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from activities.inputs import STORAGE_FAILED, OutboxMessage
from activities.storage import (
    AssignmentRow,
    Base,
    CaseRow,
    ClockRow,
    ResponsibilityRow,
    SatisfactionRow,
    StorageActivities,
    get_case,
    list_events,
)
from tests.records_support import Script, store


def rows(sessions: sessionmaker[Session], model: type[Base]) -> list[Any]:
    with sessions() as session:
        return list(session.scalars(select(model)))


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def number_of(sessions: sessionmaker[Session], case_id: str) -> str:
    with sessions() as session:
        case = get_case(session, case_id)
        assert case is not None
        return case.case_number


def test_case_numbers_count_per_prefix_and_year_in_the_process_zone(
    session_factory: sessionmaker[Session],
) -> None:
    # 2026-12-31 17:00 UTC is already 2027 in Shanghai; the same instant is 2026 in UTC.
    new_year = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    cases = [
        Script("complaint-a"),
        Script("complaint-b"),
        Script("service_request-a", process="service_request", prefix="SR"),
        Script("complaint-c", at=new_year),
        Script("complaint-d", at=new_year, zone="UTC"),
        Script("other-a", process="other", prefix=None),
    ]
    store(session_factory, *(script.open() for script in cases))
    assert [number_of(session_factory, script.case_id) for script in cases] == [
        "CP-2026-000001",
        "CP-2026-000002",
        "SR-2026-000001",
        "CP-2027-000001",
        "CP-2026-000003",
        "OTHER-2026-000001",
    ]


def test_concurrent_openings_get_distinct_numbers(session_factory: sessionmaker[Session]) -> None:
    activities = StorageActivities(session_factory)
    scripts = [Script(f"complaint-{index}") for index in range(12)]
    errors: list[BaseException] = []

    def open_case(script: Script) -> None:
        try:
            activities.record_step(script.open())
        except BaseException as error:  # reported below, with the thread's failure
            errors.append(error)

    threads = [threading.Thread(target=open_case, args=(script,)) for script in scripts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = {number_of(session_factory, script.case_id) for script in scripts}
    assert numbers == {f"CP-2026-{n:06d}" for n in range(1, 13)}


def test_assignments_clocks_satisfaction_and_responsibility(
    session_factory: sessionmaker[Session],
) -> None:
    s = Script("complaint-x", clocks=("response", "resolution"))
    store(
        session_factory,
        s.open(),
        s.step("accept", "triage", start=("response", "resolution")),
        s.step("assign", "handling", actor="李强", data={"assignee": "陈静"}, stop=("response",)),
        s.step(
            "propose", "feedback", actor="陈静", data={"resolution": "退费"}, stop=("resolution",)
        ),
        s.step("dissatisfied", "handling", actor="customer", data={"csat": 2}),
        s.step("propose", "feedback", actor="陈静"),
        s.step("satisfied", "closure", actor="customer", data={"csat": 2, "nps": 9}),
        s.step("close", "closed", actor="陈静", role="handler", data={"responsibility": "staff"}),
    )
    [assignment] = rows(session_factory, AssignmentRow)
    assert (assignment.assignee, assignment.previous, assignment.actor) == ("陈静", None, "李强")
    assert [(r.seq, r.csat, r.nps) for r in rows(session_factory, SatisfactionRow)] == [
        (4, 2, None),
        (6, 2, 9),  # the same score given again is a second answer
    ]
    [duty] = rows(session_factory, ResponsibilityRow)
    assert (duty.responsibility, duty.signed_off_by, duty.role) == ("staff", "陈静", "handler")
    clocks = {row.name: row for row in rows(session_factory, ClockRow)}
    assert clocks["response"].met is True and clocks["response"].seq == 2
    assert clocks["resolution"].status == "stopped" and clocks["resolution"].seq == 3
    with session_factory() as session:
        trail = list_events(session, s.case_id)
        case = get_case(session, s.case_id)
    assert case is not None and case.assignee == "陈静"
    assert [sorted(row.clocks) for row in trail] == [
        [],
        ["resolution", "response"],
        ["response"],
        ["resolution"],
        [],
        [],
        [],
        [],
    ]
    assert trail[1].clocks["response"]["status"] == "running"


class FailAfterCommit:
    """A session factory whose first transaction commits and then raises, as if the worker
    lost the database's answer (a timeout, a dropped connection) right after the commit."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self.kw = sessions.kw  # as a sessionmaker has: the storage reads its bind from it
        self.failures = 0

    def __call__(self) -> Session:
        return self._sessions()

    def begin(self) -> Any:
        inner = self._sessions.begin()
        outer = self

        class Transaction:
            def __enter__(self) -> Session:
                return inner.__enter__()

            def __exit__(self, *exc: object) -> bool | None:
                result = inner.__exit__(*exc)  # type: ignore[arg-type]
                if exc[0] is None and outer.failures == 0:
                    outer.failures += 1
                    raise ConnectionError("connection lost after commit")
                return result

        return Transaction()


@pytest.mark.parametrize("messages", [0, 2])
def test_a_retry_after_a_lost_commit_writes_nothing_twice(
    session_factory: sessionmaker[Session], messages: int
) -> None:
    flaky = FailAfterCommit(session_factory)
    activities = StorageActivities(flaky)  # type: ignore[arg-type]
    s = Script("complaint-retry", clocks=("response",))
    store(session_factory, s.open())
    step = s.step(
        "satisfied",
        "closure",
        actor="customer",
        data={"csat": 4, "assignee": "陈静", "responsibility": "process"},
        start=("response",),
    )
    survey = OutboxMessage(recipient="customer", template="survey")
    step = step.model_copy(update={"messages": [survey] * messages})
    with pytest.raises(ApplicationError, match="not stored yet: ConnectionError") as caught:
        activities.record_step(step)
    assert caught.value.type == STORAGE_FAILED and not caught.value.non_retryable
    before = counts(session_factory)
    result = activities.record_step(step)  # the activity's retry
    assert result.created is False
    assert counts(session_factory) == before
    assert before["kesu_case_event"] == 2 and before["kesu_outbox"] == messages
    for table in ("kesu_satisfaction", "kesu_assignment", "kesu_responsibility"):
        assert before[table] == 1, table
    with session_factory() as session:
        assert session.scalar(select(CaseRow.last_seq)) == 1


def test_an_upgrade_closes_the_rows_of_clocks_the_target_dropped(
    session_factory: sessionmaker[Session],
) -> None:
    s = Script("claim-9", process="claim", prefix="CL", clocks=("response", "resolution"))
    store(session_factory, s.open(), s.step("accept", "handling", start=("response", "resolution")))
    del s.clocks["response"]  # v2 has no response clock
    upgraded = s.step("case.upgraded", "investigation", notes=["clock response: not in v2"])
    store(session_factory, upgraded)
    clocks = {row.name: row for row in rows(session_factory, ClockRow)}
    response, resolution = clocks["response"], clocks["resolution"]
    assert (response.status, response.stopped_at, response.due_at) == ("stopped", upgraded.at, None)
    assert (response.met, response.seq) == (True, upgraded.seq)
    assert resolution.status == "running" and resolution.due_at is not None
    with session_factory() as session:
        audit = list_events(session, "claim-9")[-1]
    assert audit.clocks["response"]["status"] == "stopped"
    assert "resolution" not in audit.clocks

    # A retried upgrade step writes nothing twice, and later steps leave the closed row alone.
    store(session_factory, upgraded, s.step("close", "closed", stop=("resolution",), final=True))
    assert {row.name: row.seq for row in rows(session_factory, ClockRow)}[
        "response"
    ] == upgraded.seq
