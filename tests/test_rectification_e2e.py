"""Rectification (整改) end to end on Temporal and a database: a complaint closed with a staff
finding starts its rectification clock, the owner is reminded before the due date through the
outbox, and reporting the rectification done stops the clock."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.storage import ClockRow, list_outbox
from service.cases import KesuError
from tests.temporal_support import Harness
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal

SHANGHAI = ZoneInfo("Asia/Shanghai")
HANDLER = ("陈静", ["handler"])


async def test_a_rectification_is_followed_after_closure_until_done(
    timed_harness: Harness, time_env: WorkflowEnvironment
) -> None:
    h = timed_harness
    case = (await h.kesu.start_case("complaint", {"customer_id": "C-8"}, roles=["agent"])).case_id
    opened = (await h.kesu.get_case(case)).state.opened_at
    due_date = (opened.astimezone(SHANGHAI).date() + timedelta(days=5)).isoformat()
    journey: list[tuple[str, tuple[str, list[str]], dict[str, Any]]] = [
        ("accept", ("王敏", ["agent"]), {}),
        ("assign", ("李强", ["supervisor"]), {"assignee": "陈静"}),
        ("propose", HANDLER, {"resolution": "退还重复扣费"}),
        ("satisfied", ("customer", ["customer"]), {"csat": 4}),
    ]
    for event, (actor, roles), data in journey:
        await h.kesu.send_event(case, event, actor=actor, roles=roles, data=data)

    finding = {"responsibility": "staff", "root_cause": "操作差错"}
    with pytest.raises(KesuError) as refused:
        await h.kesu.send_event(case, "close", actor="陈静", roles=["handler"], data=finding)
    assert str(refused.value).endswith(
        "requires input 'rectification', 'rectification_owner', 'rectification_due' "
        "(as responsibility != 'customer')"
    )
    rectification = {
        "rectification": "柜员操作规范培训",
        "rectification_owner": "刘洋",
        "rectification_due": due_date,
    }
    closed = await h.kesu.send_event(
        case, "close", actor="陈静", roles=["handler"], data={**finding, **rectification}
    )
    assert closed.stage == "closed"
    view = await h.kesu.get_case(case)
    clock = view.state.clocks["rectification"]
    assert clock.status == "running" and clock.due_at is not None
    # Due at the end of the due date in the process's zone.
    day_after = opened.astimezone(SHANGHAI).date() + timedelta(days=6)
    assert clock.due_at == datetime.combine(day_after, time(), SHANGHAI)

    # Three days before the due date its owner is reminded, through the outbox.
    closed_at = view.state.steps[-1].at
    reminder_at = clock.due_at - timedelta(days=3)
    handle = h.client.get_workflow_handle_for(CaseWorkflow.run, case)
    assert await time_env.fast_forward(handle, reminder_at - closed_at + timedelta(minutes=1))
    view = await h.kesu.get_case(case)
    assert view.state.steps[-1].event == "deadline.warning:rectification"
    with h.sessions() as session:
        sent = [m for m in list_outbox(session, case) if m.recipient == "rectification_owner"]
    assert [m.template for m in sent] == ["rectification_reminder"]

    done = await h.kesu.send_event(
        case, "rectification_done", actor="陈静", roles=["handler"],
        data={"rectification_result": "已完成全员培训"},
    )  # fmt: skip
    assert done.stage == "closed"
    view = await h.kesu.get_case(case)
    stopped = view.state.clocks["rectification"]
    assert stopped.status == "stopped" and stopped.met is True and stopped.breached_at is None
    assert view.state.steps[-1].event == "rectification_done"
    assert view.state.fields["rectified_by"] == "陈静"
    with h.sessions() as session:
        row = session.get(ClockRow, (case, "rectification"))
        assert row is not None and (row.status, row.met) == ("stopped", True)
