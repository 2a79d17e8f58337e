"""Deadlines at their real lengths on a real Temporal dev server (virtual time skipping),
including one that falls due while no worker is running."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.storage import list_events, list_outbox, make_engine, make_session_factory
from process.compiler import CompiledSpec
from tests.temporal_support import Harness, running_harness, sqlite_url
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal

HISTORIES = Path(__file__).parent / "histories"

AGENT = {"actor": "王敏", "roles": ["agent"]}
SUPERVISOR = {"actor": "李强", "roles": ["supervisor"]}


def handle(h: Harness, case_id: str) -> WorkflowHandle[Any, Any]:
    return h.client.get_workflow_handle_for(CaseWorkflow.run, case_id)


def stored(h: Harness, case_id: str) -> list[str]:
    with h.sessions() as session:
        return [row.event for row in list_events(session, case_id)]


async def test_a_15_day_decision_breaches_after_15_days(
    time_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    async with running_harness(time_env.client, sqlite_url(tmp_path), specs) as h:
        case = (
            await h.kesu.start_case("bank_complaint", {"customer_id": "C-0"}, roles=["agent"])
        ).case_id
        await h.kesu.send_event(case, "accept", data={"assignee": "陈静"}, **AGENT)  # type: ignore[arg-type]
        accepted_at = (await h.kesu.get_case(case)).state.steps[1].at
        assert await time_env.fast_forward(handle(h, case), timedelta(days=14, hours=23))
        view = await h.kesu.get_case(case)
        assert view.state.steps[-1].event == "deadline.warning:decision"  # 3 days before
        assert view.state.clocks["decision"].breached_at is None
        assert await time_env.fast_forward(handle(h, case), timedelta(hours=2))
        view = await h.kesu.get_case(case)
        assert view.state.steps[-1].event == "deadline.breached:decision"
        assert view.state.clocks["decision"].breached_at == accepted_at + timedelta(days=15)


async def test_an_extended_decision_warns_breaches_and_escalates(
    time_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    async with running_harness(time_env.client, sqlite_url(tmp_path), specs) as h:
        case = (
            await h.kesu.start_case("bank_complaint", {"customer_id": "C-1"}, roles=["agent"])
        ).case_id
        await h.kesu.send_event(case, "accept", data={"assignee": "陈静"}, **AGENT)  # type: ignore[arg-type]
        await h.kesu.send_event(
            case,
            "extend",
            data={"extension_reason": "需调取录音"},
            **SUPERVISOR,  # type: ignore[arg-type]
        )
        view = await h.kesu.get_case(case)
        accepted_at = view.state.steps[1].at
        assert view.state.clocks["decision"].due_at == accepted_at + timedelta(days=30)
        assert await time_env.fast_forward(handle(h, case), timedelta(days=31, hours=1))
        view = await h.kesu.get_case(case)
        events = [step.event for step in view.state.steps]
        assert events[-4:] == [
            "deadline.warning:decision",
            "deadline.breached:decision",
            "deadline.escalated:decision:1",
            "deadline.escalated:decision:2",
        ]
        breach = view.state.steps[-3]
        assert breach.at - accepted_at >= timedelta(days=30)
        assert view.state.fields["priority"] == "high"
        assert stored(h, case) == events
        with h.sessions() as session:
            recipients = [m.recipient for m in list_outbox(session, case)][-4:]
        assert recipients == ["assignee", "assignee", "supervisor", "manager"]
        if os.environ.get("KESU_RECORD_HISTORIES"):
            # bank_complaint_escalated.json (from before the lighter path) stays as it was.
            history = await handle(h, case).fetch_history()
            path = HISTORIES / "bank_complaint_escalated_lighter.json"
            path.write_text(history.to_json(), encoding="utf-8")
            path.with_name(path.stem + ".definitions.json").write_text(
                f"[{specs['bank_complaint'].model_dump_json()}]", encoding="utf-8"
            )


async def test_a_deadline_that_falls_due_while_the_worker_is_down(
    time_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    database = sqlite_url(tmp_path)
    async with running_harness(time_env.client, database, specs) as h:
        queue = h.task_queue
        case = (
            await h.kesu.start_case("complaint", {"customer_id": "C-2"}, roles=["agent"])
        ).case_id
        await h.kesu.send_event(case, "accept", **AGENT)  # type: ignore[arg-type]
        workflow = handle(h, case)
        # The 75 % warning comes first, with the worker up.
        assert await time_env.fast_forward(workflow, timedelta(hours=18, minutes=1))
        view = await h.kesu.get_case(case)
        due = view.state.clocks["response"].due_at
        assert due is not None and view.state.steps[-1].event == "deadline.warning:response"
    # No worker now: the 24 h response deadline falls due on the server alone.
    skipping = asyncio.create_task(time_env.fast_forward(workflow, timedelta(hours=6)))
    for _ in range(300):
        info = await time_env.get_time_skipping_info(workflow)
        if info is not None and info.current_time.ToDatetime(tzinfo=due.tzinfo) >= due:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("virtual time never reached the deadline")
    assert "deadline.breached:response" not in stored_in(database, case)
    async with running_harness(time_env.client, database, specs, task_queue=queue) as h:
        assert await asyncio.wait_for(skipping, timeout=60)
        view = await h.kesu.get_case(case)
        clock = view.state.clocks["response"]
        assert clock.breached_at == due  # the breach counts from the due time, not the restart
        assert view.state.steps[-1].event == "deadline.breached:response"
        assert view.state.fields["priority"] == "high"
        assert stored(h, case) == [step.event for step in view.state.steps]


def stored_in(database: str, case_id: str) -> list[str]:
    sessions = make_session_factory(make_engine(database))
    with sessions() as session:
        return [row.event for row in list_events(session, case_id)]
