"""The call-back (回访) on a real Temporal dev server: a guard over who acts is checked in the
update validator, so the refusal names event and stage and never reaches the history; a
dissatisfied call-back reopens the case with computed values from the workflow's time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from service.cases import KesuError
from service.demo import rectification
from tests.temporal_support import Harness
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal

AGENT = ("王敏", ["agent"])
SUPERVISOR = ("李强", ["supervisor"])
HANDLER = ("陈静", ["handler"])
CUSTOMER = ("customer", ["customer"])


RECTIFICATION = rectification("年费规则说明修订", "刘洋")


async def accepted_updates(h: Harness, case_id: str) -> int:
    history = await h.client.get_workflow_handle_for(CaseWorkflow.run, case_id).fetch_history()
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return sum(event.event_type == accepted for event in history.events)


async def test_a_dissatisfied_call_back_by_another_person_reopens_the_case(
    harness: Harness,
) -> None:
    h = harness
    case = (await h.kesu.start_case("complaint", {"customer_id": "C-7"}, roles=["agent"])).case_id
    journey: list[tuple[str, tuple[str, list[str]], dict[str, Any]]] = [
        ("accept", AGENT, {}),
        ("assign", SUPERVISOR, {"assignee": "陈静"}),
        ("propose", HANDLER, {"resolution": "退还年费 300 元"}),
        ("satisfied", CUSTOMER, {"csat": 4}),
        (
            "close",
            HANDLER,
            {"responsibility": "process", "root_cause": "业务规则", **RECTIFICATION},
        ),
    ]
    for event, (actor, roles), data in journey:
        await h.kesu.send_event(case, event, actor=actor, roles=roles, data=data)
    assert await accepted_updates(h, case) == len(journey)

    # The handler, acting as a supervisor, may not make the call-back on their own case.
    with pytest.raises(KesuError) as refused:
        await h.kesu.send_event(case, "callback_satisfied", actor="陈静", roles=["supervisor"])
    assert str(refused.value) == (
        "event 'callback_satisfied' in stage 'closed': condition not met: actor != assignee"
    )
    assert await accepted_updates(h, case) == len(journey)  # the refusal left no trace

    result = await h.kesu.send_event(
        case, "callback_dissatisfied", actor="王敏", roles=["agent"],
        data={"callback_note": "客户认为退费金额不足"},
    )  # fmt: skip
    assert result.stage == "handling"
    view = await h.kesu.get_case(case)
    fields, step = view.state.fields, view.state.steps[-1]
    assert (fields["reopen_count"], fields["called_back_by"]) == (1, "王敏")
    assert datetime.fromisoformat(fields["called_back_at"]) == step.at  # the workflow's time
    assert view.state.clocks["plan"].status == "running"
    assert view.state.clocks["callback"].status == "stopped"
