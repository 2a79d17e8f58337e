"""Storage faults: data the database refuses halts the case visibly instead of retrying
forever; an outage is retried until the database is back; neither leaks customer data into
Temporal's history or the worker's log.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.storage import describe_failure, is_data_fault, list_outbox, make_engine
from process.compiler import CompiledSpec
from runtime import connect
from service.cases import KesuError
from tests.temporal_support import Harness, running_harness, sqlite_url
from workflows.case import CaseInput, CaseView, CaseWorkflow

pytestmark = pytest.mark.temporal

KEY = bytes(range(32))
NAME, PHONE = "欧阳娜娜", "13912345678"
PII = (NAME, PHONE, "年费被扣")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the worker (and kesu) logged, tracebacks included."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


async def eventually_view(handle: WorkflowHandle[CaseWorkflow, object], ready: str) -> CaseView:
    for _ in range(600):
        view = await handle.query(CaseWorkflow.case)
        if ready == "halted" and view.halted:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"the case never became {ready}")


async def operator_alert(sessions: sessionmaker[Session], case_id: str) -> dict[str, object]:
    for _ in range(600):
        with sessions() as session:
            for row in list_outbox(session, case_id):
                if row.recipient == "operator":
                    return dict(row.params)
        await asyncio.sleep(0.05)
    raise AssertionError("no operator alert was queued")


@pytest.mark.postgres
async def test_data_the_database_refuses_halts_the_case_readably(
    temporal_env: WorkflowEnvironment,
    postgres_database: str,
    specs: dict[str, CompiledSpec],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with running_harness(temporal_env.client, postgres_database, specs) as h:
        case_id = f"complaint-nul-{uuid.uuid4().hex[:8]}"
        # Past the service's own checks, as a caller on an older kesu (or a bug) would get it:
        # PostgreSQL text cannot hold NUL.
        fields = {"customer_id": "C-1", "customer_name": NAME, "description": "年费被扣\x00"}
        handle = await h.client.start_workflow(
            CaseWorkflow.run,
            CaseInput(case_id=case_id, spec=specs["complaint"], fields=fields),
            id=case_id,
            task_queue=h.task_queue,
        )
        view = await eventually_view(handle, "halted")
        assert view.halted is not None
        assert "step 0 cannot be stored: the database refuses its data" in view.halted
        assert "UntranslatableCharacter" in view.halted
        assert view.pending == [0]
        assert view.state.fields["customer_name"] == NAME  # still readable, from the workflow
        with pytest.raises(KesuError, match="is halted") as refused:
            await h.kesu.send_event(case_id, "accept", actor="王敏", roles=["agent"])
        assert refused.value.kind == "conflict"
        # An outage would retry: this was one attempt, not one per second forever.
        description = await handle.describe()
        pending = description.raw_description.pending_activities
        assert [activity.activity_type.name for activity in pending if activity.attempt > 1] == []
        assert "record_step" not in [activity.activity_type.name for activity in pending]
        # An operator hears of it, though SQL has no row of the case.
        alert = await operator_alert(h.sessions, case_id)
        assert (alert["seq"], alert["trigger"], alert["stage"]) == (0, "case.opened", "intake")
        assert alert["failure"] == "UntranslatableCharacter (SQLSTATE 22P05)"
    log = logged(caplog)
    assert "case halted at step 0 (case.opened)" in log
    for secret in PII:
        assert secret not in log and secret not in view.halted and secret not in str(alert)


@pytest_asyncio.fixture
async def encrypted(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> AsyncIterator[Harness]:
    address = temporal_env.client.service_client.config.target_host
    client: Client = await connect(address, "default", payload_key=KEY)
    async with running_harness(client, sqlite_url(tmp_path), specs) as harness:
        yield harness


async def test_an_outage_is_retried_and_its_failure_carries_no_customer_data(
    encrypted: Harness,
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    h = encrypted
    fields = {"customer_id": "C-1", "customer_name": NAME, "phone": PHONE, "description": PII[2]}
    case_id = (await h.kesu.start_case("complaint", fields, roles=["agent"])).case_id
    plain = temporal_env.client.get_workflow_handle(case_id)  # no key: what the server keeps
    # Another program holds SQLite's write lock: the step fails ("database is locked").
    blocker = sqlite3.connect(tmp_path / "kesu.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        sending = asyncio.create_task(
            h.kesu.send_event(case_id, "accept", actor="王敏", roles=["agent"], event_id="a1")
        )
        failure = None
        for _ in range(600):
            pending = (await plain.describe()).raw_description.pending_activities
            if pending and pending[0].HasField("last_failure"):
                failure = pending[0].last_failure
                break
            await asyncio.sleep(0.05)
        assert failure is not None, "the locked database never failed a step"
        assert not sending.done()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    result = await sending  # retried until the database took it
    assert result.stage == "triage"
    # The failure's message travels encrypted, like the data it might quote.
    # (The server may also drop a failure it finds too big; then nothing is readable either.)
    assert failure.message in ("Encoded failure", "Failure exceeds size limit."), failure
    assert "database is locked" not in failure.message
    history = await plain.fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    assert stored.count(b"Encoded failure") >= 1
    log = logged(caplog)
    assert "not stored yet: OperationalError: database is locked" in log
    for secret in PII:
        assert secret.encode() not in stored
        assert secret.encode() not in failure.SerializeToString()
        assert secret not in log


def test_database_errors_never_carry_the_statements_values(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    with pytest.raises(SQLAlchemyError) as caught, engine.connect() as connection:
        connection.execute(text("INSERT INTO no_such_table VALUES (:name)"), {"name": NAME})
    assert NAME not in str(caught.value)
    assert "hidden" in str(caught.value)
    assert not is_data_fault(caught.value)
    assert describe_failure(caught.value) == "OperationalError: no such table: no_such_table"
