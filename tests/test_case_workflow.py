"""Cases on a real Temporal dev server with a real database: kesu end to end."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.storage import get_case, list_events, list_outbox
from service.cases import CaseFilter, KesuError
from tests.temporal_support import Harness
from workflows.case import CaseSummary, CaseWorkflow

pytestmark = pytest.mark.temporal

HISTORIES = Path(__file__).parent / "histories"
Who = tuple[str, list[str]]
AGENT: Who = ("王敏", ["agent"])
SUPERVISOR: Who = ("李强", ["supervisor"])
HANDLER: Who = ("陈静", ["handler"])
CUSTOMER: Who = ("customer", ["customer"])
REVIEWER: Who = ("赵磊", ["reviewer"])


async def send(h: Harness, case_id: str, event: str, who: Who, **data: Any) -> str:
    result = await h.kesu.send_event(case_id, event, actor=who[0], roles=who[1], data=data)
    return result.stage


def handle(h: Harness, case_id: str) -> WorkflowHandle[CaseWorkflow, CaseSummary]:
    return h.client.get_workflow_handle_for(CaseWorkflow.run, case_id)


def stored_events(h: Harness, case_id: str) -> list[tuple[int, str, str]]:
    with h.sessions() as session:
        return [(row.seq, row.event, row.to_stage) for row in list_events(session, case_id)]


async def wait_for(condition: Any, what: str, seconds: float = 20) -> None:
    for _ in range(int(seconds * 10)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_complaint_goes_through_every_stage(
    timed_harness: Harness, time_env: WorkflowEnvironment
) -> None:
    h = timed_harness
    started = await h.kesu.start_case(
        "complaint",
        {"customer_id": "C-1", "customer_name": "张女士", "severity": "urgent", "category": "card"},
        key="full-case",
        actor="web",
        roles=["agent"],
    )
    case = started.case_id
    journey: list[tuple[str, Who, dict[str, Any], str]] = [
        ("accept", AGENT, {}, "triage"),
        ("escalate", AGENT, {}, "escalation"),
        ("assign", SUPERVISOR, {"assignee": "陈静"}, "handling"),
        ("submit_plan", HANDLER, {"plan": "核实后退费"}, "handling"),
        ("ask_customer", HANDLER, {}, "waiting_customer"),
        ("customer_replied", CUSTOMER, {}, "handling"),
        ("propose", HANDLER, {"resolution": "退还年费 300 元"}, "feedback"),
        ("satisfied", CUSTOMER, {"csat": 5}, "closure"),
        ("close", HANDLER, {"responsibility": "customer", "root_cause": "客户误解"}, "closed"),
        ("request_review", CUSTOMER, {"review_reason": "复核"}, "review"),
        ("uphold", REVIEWER, {}, "closed"),
    ]
    for event, who, data, expected in journey:
        assert await send(h, case, event, who, **data) == expected, event
    # The review window is 30 days of real (virtual) time; then the case archives itself,
    # ending the workflow before the fast-forward's target (so it reports False).
    await time_env.fast_forward(handle(h, case), timedelta(days=30, minutes=1))
    summary = await handle(h, case).result()
    assert summary.stage == "archived"

    view = await h.kesu.get_case(case)
    stored = stored_events(h, case)
    assert [seq for seq, _, _ in stored] == list(range(len(view.state.steps)))
    assert [event for _, event, _ in stored][:2] == ["case.opened", "accept"]
    assert stored[-1][1:] == ("timeout", "archived")
    with h.sessions() as session:
        row = get_case(session, case)
        assert row is not None and row.stage == "archived" and row.closed_at is not None
        assert row.fields["customer_name"] == "张女士"
        outbox = list_outbox(session, case)
    assert outbox and all(message.status == "delivered" for message in outbox)
    assert {"acknowledged", "escalated", "result", "survey", "closed"} <= {
        message.template for message in outbox
    }
    if os.environ.get("KESU_RECORD_HISTORIES"):
        # complaint_full.json (the definition in the input, a timer per wait) stays as it was.
        history = await handle(h, case).fetch_history()
        path = HISTORIES / "complaint_full_lighter.json"
        path.write_text(history.to_json(), encoding="utf-8")
        path.with_name(path.stem + ".definitions.json").write_text(
            f"[{h.kesu.processes['complaint'].model_dump_json()}]", encoding="utf-8"
        )


async def test_illegal_events_are_refused_before_history(harness: Harness) -> None:
    h = harness
    case = (await h.kesu.start_case("complaint", {"customer_id": "C-2"}, roles=["agent"])).case_id
    with pytest.raises(KesuError) as refused:
        await send(h, case, "close", HANDLER, responsibility="staff")
    assert str(refused.value) == (
        "event 'close' in stage 'intake': not allowed here (allowed: accept, withdraw)"
    )
    with pytest.raises(KesuError, match="needs role agent or supervisor"):
        await send(h, case, "accept", CUSTOMER)
    assert await send(h, case, "accept", AGENT) == "triage"
    with pytest.raises(KesuError, match="requires input 'assignee'"):
        await send(h, case, "assign", AGENT)
    with pytest.raises(KesuError, match=r"field 'assignee': expected text, got number 42"):
        await send(h, case, "assign", AGENT, assignee=42)
    with pytest.raises(KesuError, match=r"field 'csat': not an input of this event"):
        await send(h, case, "assign", AGENT, assignee="x", csat=5)
    history = await handle(h, case).fetch_history()
    accepted = [
        event
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert len(accepted) == 1  # only the legal 'accept' reached history
    assert [event for _, event, _ in stored_events(h, case)] == ["case.opened", "accept"]


async def test_unknown_cases_and_processes_are_clear_errors(harness: Harness) -> None:
    with pytest.raises(KesuError, match="no case 'complaint-nope'"):
        await harness.kesu.get_case("complaint-nope")
    with pytest.raises(KesuError, match="no case 'complaint-nope'"):
        await send(harness, "complaint-nope", "accept", AGENT)
    with pytest.raises(
        KesuError,
        match=r"unknown process 'complain' \(known: bank_complaint, complaint, service_request\)",
    ):
        await harness.kesu.start_case("complain", {"customer_id": "C-1"}, roles=["agent"])
    with pytest.raises(KesuError, match=r"^cannot open a complaint case: customer_id: required$"):
        await harness.kesu.start_case("complaint", {"severity": "urgent"}, roles=["agent"])
    with pytest.raises(KesuError, match=r"severity: 'severe' is not one of urgent, normal, low"):
        await harness.kesu.start_case(
            "complaint", {"customer_id": "C", "severity": "severe"}, roles=["agent"]
        )


async def test_a_duplicate_start_and_a_duplicate_event_apply_once(
    harness: Harness, unique_key: str
) -> None:
    h = harness
    first = await h.kesu.start_case(
        "complaint", {"customer_id": "C-3"}, key=unique_key, roles=["agent"]
    )
    again = await h.kesu.start_case(
        "complaint", {"customer_id": "C-3"}, key=unique_key, roles=["agent"]
    )
    assert first.case_id == again.case_id
    assert (first.created, again.created) == (True, False)
    case = first.case_id
    actor, roles = AGENT
    one = await h.kesu.send_event(case, "accept", actor=actor, roles=roles, event_id="crm-evt-1")
    two = await h.kesu.send_event(case, "accept", actor=actor, roles=roles, event_id="crm-evt-1")
    assert one == two
    view = await h.kesu.get_case(case)
    assert [step.event for step in view.state.steps] == ["case.opened", "accept"]
    assert [event for _, event, _ in stored_events(h, case)] == ["case.opened", "accept"]


async def test_a_breached_deadline_fires_its_actions(
    timed_harness: Harness, time_env: WorkflowEnvironment
) -> None:
    h = timed_harness
    case = (await h.kesu.start_case("complaint", {"customer_id": "C-4"}, roles=["agent"])).case_id
    await send(h, case, "accept", AGENT)
    assert await time_env.fast_forward(handle(h, case), timedelta(hours=24, minutes=1))
    view = await h.kesu.get_case(case)
    events = [step.event for step in view.state.steps]
    assert events[-2:] == ["deadline.warning:response", "deadline.breached:response"]
    assert view.state.fields["priority"] == "high"
    assert view.state.clocks["response"].breached_at is not None
    with h.sessions() as session:
        breach_messages = [m for m in list_outbox(session, case) if m.recipient == "supervisor"]
    assert [m.template for m in breach_messages] == ["deadline_warning", "deadline_breached"]
    # The 48 h plan deadline moves the case to escalation on its breach.
    assert await time_env.fast_forward(handle(h, case), timedelta(hours=24))
    view = await h.kesu.get_case(case)
    assert view.state.stage == "escalation"
    assert view.state.steps[-1].event == "deadline.breached:plan"

    async def listed_as_overdue() -> bool:
        overdue = await h.kesu.list_cases(CaseFilter(overdue=True, process="complaint"))
        return case in [item.case_id for item in overdue]

    await wait_for(listed_as_overdue, "the breached case to be listed as overdue")


async def test_cases_are_listed_by_stage(harness: Harness) -> None:
    h = harness
    case = (
        await h.kesu.start_case("service_request", {"customer_id": "C-5"}, roles=["agent"])
    ).case_id
    await send(h, case, "answer", AGENT, assignee="陈静")

    async def listed() -> bool:
        found = await h.kesu.list_cases(CaseFilter(process="service_request", stage="handling"))
        return case in [item.case_id for item in found]

    await wait_for(listed, "the case to be listed in stage handling")
    found = await h.kesu.list_cases(CaseFilter(process="service_request", stage="handling"))
    item = next(item for item in found if item.case_id == case)
    assert item.priority == "normal" and item.next_deadline is not None and item.running


async def test_a_case_is_reassigned_and_the_move_is_recorded(harness: Harness) -> None:
    h = harness
    case = (await h.kesu.start_case("complaint", {"customer_id": "C-6"}, roles=["agent"])).case_id
    await send(h, case, "accept", AGENT)
    await send(h, case, "assign", SUPERVISOR, assignee="陈静")
    with pytest.raises(KesuError, match="it is assigned to '陈静', not '王敏'"):
        await h.kesu.reassign_case(case, "王敏", "赵磊")
    result = await h.kesu.reassign_case(case, "陈静", "赵磊", actor="hr", reason="离职 left")
    assert result.stage == "handling"
    view = await h.kesu.get_case(case)
    assert view.state.fields["assignee"] == "赵磊"
    step = view.state.steps[-1]
    assert (step.event, step.actor) == ("case.reassigned", "hr")
    assert step.notes == ["assignee: 陈静 → 赵磊", "reason: 离职 left"]
    assert stored_events(h, case)[-1] == (3, "case.reassigned", "handling")
