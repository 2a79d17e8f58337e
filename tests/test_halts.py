"""A halted case alerts an operator and, once its cause is fixed, is repaired.

The fault is real: PostgreSQL refuses a step because a column is too narrow for the event's
data (``StringDataRightTruncation``, a data error: retrying cannot help). The case halts, an
operator alert and the ``KesuHalted`` search attribute say so without customer data; a repair
before the fix halts again with the reason; after the fix the halted step is stored and the
repair itself is an audited ``case.repaired`` step.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import uuid
from asyncio.subprocess import PIPE
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.halts import HALT_TEMPLATE, OPERATOR_RECIPIENT, HaltActivities
from activities.inputs import HaltReport
from activities.storage import (
    OutboxStatus,
    list_events,
    list_outbox,
    make_engine,
    make_session_factory,
)
from activities.storage.migrations import migrate
from api import Principal, TokenTable
from process.compiler import CompiledSpec
from service.cases import KesuError
from tests.api_support import AGENT, TOKENS, api_app, serving
from tests.temporal_support import Harness, running_harness, sqlite_url
from tests.test_storage_faults import PII, logged
from workflows import search
from workflows.case import CaseView, CaseWorkflow

PROJECT = Path(__file__).parent.parent
HISTORIES = PROJECT / "tests" / "histories"
ADMIN = {"Authorization": "Bearer admin-token"}
NAME, PHONE, DESCRIPTION = PII[0], PII[1], PII[2]
LONG_ACTOR = "王敏王敏王"  # five characters: one more than the narrowed column takes


async def halted_view(handle: WorkflowHandle[CaseWorkflow, object]) -> CaseView:
    for _ in range(600):
        view = await handle.query(CaseWorkflow.case)
        if view.halted:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError("the case never halted")


async def delivered_alerts(h: Harness, case_id: str, count: int) -> list[dict[str, object]]:
    """The operator alerts of ``case_id`` once ``count`` of them are delivered."""
    for _ in range(600):
        with h.sessions() as session:
            alerts = [
                row
                for row in list_outbox(session, case_id)
                if row.recipient == OPERATOR_RECIPIENT
                and row.status == OutboxStatus.DELIVERED.value
            ]
            if len(alerts) >= count:
                return [dict(row.params) for row in alerts]
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} operator alerts were delivered")


async def halted_attribute(handle: WorkflowHandle[CaseWorkflow, object]) -> bool | None:
    return (await handle.describe()).typed_search_attributes.get(search.HALTED)


async def repair_from_the_command_line(
    temporal_env: WorkflowEnvironment,
    h: Harness,
    database: str,
    folder: Path,
    case_id: str,
    reason: str,
) -> str:
    """``starter.py repair CASE --reason ...`` as an operator runs it; what it printed."""
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "KESU_DATABASE_URL": database,
        "KESU_TASK_QUEUE": h.task_queue,
        "KESU_DATA_DIR": str(folder),
    }
    command = [sys.executable, str(PROJECT / "starter.py"), "repair", case_id]
    process = await asyncio.create_subprocess_exec(
        *command, "--reason", reason, "--actor", "ops-cli",
        cwd=PROJECT, env=environment, stdout=PIPE, stderr=PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode().strip()


@pytest.mark.temporal
@pytest.mark.postgres
async def test_a_halted_case_alerts_an_operator_and_is_repaired_once_fixed(
    temporal_env: WorkflowEnvironment,
    postgres_database: str,
    specs: dict[str, CompiledSpec],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.INFO)
    database = make_engine(postgres_database)
    async with running_harness(temporal_env.client, postgres_database, specs) as h:
        fields = {
            "customer_id": "C-1",
            "customer_name": NAME,
            "phone": PHONE,
            "description": DESCRIPTION,
        }
        key = uuid.uuid4().hex[:8]
        started = await h.kesu.start_case("complaint", fields, key=key, actor="li", roles=["agent"])
        case_id = started.case_id
        handle = h.client.get_workflow_handle_for(CaseWorkflow.run, case_id)
        await h.kesu.get_case(case_id)
        for _ in range(600):  # the opening step stored: its actor fits what follows
            with h.sessions() as session:
                if list_events(session, case_id):
                    break
            await asyncio.sleep(0.05)
        with database.begin() as connection:  # a schema change gone wrong: too narrow
            connection.execute(
                text("ALTER TABLE kesu_case_event ALTER COLUMN actor TYPE varchar(4)")
            )

        with pytest.raises(KesuError, match="is halted") as refused:
            await h.kesu.send_event(case_id, "accept", actor=LONG_ACTOR, roles=["agent"])
        assert refused.value.kind == "conflict"
        view = await halted_view(handle)
        assert view.halted is not None
        assert "step 1 cannot be stored" in view.halted
        assert "StringDataRightTruncation" in view.halted
        assert await halted_attribute(handle) is True
        [alert] = await delivered_alerts(h, case_id, 1)
        assert alert["case_id"] == case_id
        assert (alert["process"], alert["stage"], alert["seq"]) == ("complaint", "triage", 1)
        assert alert["failure"] == "StringDataRightTruncation (SQLSTATE 22001)"
        with h.sessions() as session:
            templates = {row.template for row in list_outbox(session, case_id)}
        assert HALT_TEMPLATE in templates

        # A repair before the fix, over HTTP: halted again, saying why; a second alert.
        tokens = TokenTable.of_tokens({**TOKENS, "admin-token": Principal("ops", ("admin",))})
        async with (
            serving(api_app(h.kesu, tokens=tokens)) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=60) as api,
        ):
            body = {"reason": "tried too early"}
            denied = await api.post(f"/cases/{case_id}/repair", json=body, headers=AGENT)
            assert denied.status_code == 403, denied.text
            early = await api.post(f"/cases/{case_id}/repair", json=body, headers=ADMIN)
        assert early.status_code == 409, early.text
        assert "is halted" in early.text and "StringDataRightTruncation" in early.text
        assert (await halted_view(handle)).pending == [1]
        second = (await delivered_alerts(h, case_id, 2))[1]
        assert second["halt"] == 2

        with database.begin() as connection:  # the operator's fix
            connection.execute(
                text("ALTER TABLE kesu_case_event ALTER COLUMN actor TYPE varchar(200)")
            )
        printed = await repair_from_the_command_line(
            temporal_env, h, postgres_database, tmp_path, case_id, "actor column widened back"
        )
        assert printed == f"{case_id}: repaired; the case goes on in triage (step 2)"
        view = await h.kesu.get_case(case_id)
        assert view.halted is None and view.pending == []
        assert await halted_attribute(handle) is False
        with h.sessions() as session:
            events = list_events(session, case_id)
        assert [(row.seq, row.event) for row in events] == [
            (0, "case.opened"),
            (1, "accept"),
            (2, "case.repaired"),
        ]
        repaired = events[2]
        assert (repaired.actor, repaired.role) == ("ops-cli", "operator")
        assert repaired.notes[-1] == "reason: actor column widened back"
        assert "StringDataRightTruncation" in repaired.notes[0]
        # The case goes on.
        moved = await h.kesu.send_event(
            case_id, "assign", actor="li", roles=["agent"], data={"assignee": "陈"}
        )
        assert moved.stage == "handling"
        with pytest.raises(KesuError, match="not halted"):
            await h.kesu.repair_case(case_id, "again", actor="ops")
        if os.environ.get("KESU_RECORD_HISTORIES"):
            history = await handle.fetch_history()
            # complaint_halted_repaired.json (steps stored durably only) stays as it was.
            path = HISTORIES / "complaint_halted_repaired_lighter.json"
            path.write_text(history.to_json(), encoding="utf-8")
            path.with_name(path.stem + ".definitions.json").write_text(
                f"[{specs['complaint'].model_dump_json()}]", encoding="utf-8"
            )
    database.dispose()
    log = logged(caplog)
    assert f"case {case_id} halted at step 1 (accept, stage triage)" in log
    for secret in (*PII, LONG_ACTOR):
        assert secret not in log
        assert secret not in json.dumps(alert, ensure_ascii=False)


def test_a_halt_is_queued_once_for_the_operator_and_as_an_event(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    migrate(engine)
    sessions = make_session_factory(engine)
    halts: list[HaltReport] = []
    activities = HaltActivities(sessions, events=True, halted=halts.append)
    report = HaltReport(
        case_id="complaint-x", process="complaint", version=2, stage="intake", seq=0,
        event="case.opened", failure="UntranslatableCharacter (SQLSTATE 22P05)",
        at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC), halt=1,
    )  # fmt: skip
    # The opening step was refused: no case row exists, and the alert is stored all the same.
    assert activities.report_halt(report).queued
    assert not activities.report_halt(report).queued  # a retried activity: nothing twice
    with sessions() as session:
        rows = list_outbox(session, "complaint-x")
    assert [(row.recipient, row.template) for row in rows] == [
        ("operator", "case_halted"),
        ("events", "case.halted"),
    ]
    assert [row.idempotency_key for row in rows] == [
        "complaint-x:0:halt1:0",
        "complaint-x:0:halt1:1",
    ]
    assert rows[1].params["type"] == "case.halted"
    assert "fields" not in rows[1].params
    assert halts == [report]
    # The next halt of the same step is a new alert.
    assert activities.report_halt(report.model_copy(update={"halt": 2})).queued
    engine.dispose()


@pytest.mark.temporal
@pytest.mark.postgres
async def test_an_alert_the_database_cannot_take_yet_is_retried_and_the_halt_stays_visible(
    temporal_env: WorkflowEnvironment,
    postgres_database: str,
    specs: dict[str, CompiledSpec],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    database = make_engine(postgres_database)
    async with running_harness(temporal_env.client, postgres_database, specs) as h:
        started = await h.kesu.start_case(
            "complaint", {"customer_id": "C-2"}, actor="li", roles=["agent"], stored=True
        )
        case_id = started.case_id
        handle = h.client.get_workflow_handle_for(CaseWorkflow.run, case_id)
        with database.begin() as connection:
            # The step's data is refused, and the outbox is away (as in a broken migration).
            connection.execute(
                text("ALTER TABLE kesu_case_event ALTER COLUMN actor TYPE varchar(4)")
            )
            connection.execute(text("ALTER TABLE kesu_outbox RENAME TO kesu_outbox_away"))
        with pytest.raises(KesuError, match="is halted"):
            await h.kesu.send_event(case_id, "accept", actor=LONG_ACTOR, roles=["agent"])
        # The alert is retried, and meanwhile the halt shows where operators look.
        retried = None
        for _ in range(600):
            pending = (await handle.describe()).raw_description.pending_activities
            retried = next(
                (a for a in pending if a.activity_type.name == "report_halt" and a.attempt > 1),
                None,
            )
            if retried is not None:
                break
            await asyncio.sleep(0.05)
        assert retried is not None, "the operator's alert was not retried"
        assert (await halted_view(handle)).halted is not None
        assert await halted_attribute(handle) is True
        assert "case halted at step 1 (accept)" in logged(caplog)
        with database.begin() as connection:  # the database is whole again
            connection.execute(text("ALTER TABLE kesu_outbox_away RENAME TO kesu_outbox"))
        [alert] = await delivered_alerts(h, case_id, 1)
        assert (alert["seq"], alert["halt"]) == (1, 1)
    database.dispose()
