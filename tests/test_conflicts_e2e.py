"""Conflict of interest (回避) on a real Temporal dev server and database: an assignment into
the case's conflict set is refused with the reason, and the refusal is a stored step of the
case; a supervisor's override with a justification goes ahead and is recorded too."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.storage import list_events
from process.compiler import CompiledSpec
from process.conflicts import ASSIGNMENT_REFUSED_EVENT
from process.refusals import RefusalKind
from service.cases import KesuError
from tests.api_support import AGENT as AGENT_TOKEN
from tests.api_support import SUPERVISOR as SUPERVISOR_TOKEN
from tests.api_support import api_client
from tests.temporal_support import Harness, sqlite_url
from tests.test_api import open_complaint, refused
from tests.test_records_e2e import run

pytestmark = pytest.mark.temporal

AGENT = ("王敏", ["agent"])
SUPERVISOR = ("李强", ["supervisor"])


def stored(h: Harness, case_id: str) -> list[tuple[str, str | None, list[str]]]:
    with h.sessions() as session:
        return [(row.event, row.actor, row.notes) for row in list_events(session, case_id)]


async def test_a_conflicting_assignment_is_refused_recorded_and_overridden(
    harness: Harness,
) -> None:
    h = harness
    about = {"customer_id": "C-9", "subject_employee": "陈静", "branch": "浦东支行"}
    case = (await h.kesu.start_case("complaint", about, roles=["agent"])).case_id
    await h.kesu.send_event(case, "accept", actor=AGENT[0], roles=AGENT[1])

    with pytest.raises(KesuError) as refused:
        await h.kesu.send_event(
            case, "assign", actor=AGENT[0], roles=AGENT[1],
            data={"assignee": "赵磊", "assignee_branch": "浦东支行"},
        )  # fmt: skip
    assert refused.value.kind is RefusalKind.CONFLICT
    assert "被投诉网点员工须回避" in str(refused.value)
    events = stored(h, case)
    assert events[-1][:2] == (ASSIGNMENT_REFUSED_EVENT, "王敏")
    assert events[-1][2] == [str(refused.value)]

    # Left out, the assignee's branch cannot be checked: refused before history, not recorded.
    with pytest.raises(KesuError) as invalid:
        await h.kesu.send_event(
            case, "assign", actor=AGENT[0], roles=AGENT[1], data={"assignee": "赵磊"}
        )
    assert invalid.value.kind is RefusalKind.INVALID
    assert len(stored(h, case)) == len(events)

    why = "唯一懂该产品 the only one who knows the product"
    result = await h.kesu.send_event(
        case, "assign", actor=SUPERVISOR[0], roles=SUPERVISOR[1],
        data={"assignee": "陈静", "assignee_branch": "静安支行", "conflict_justification": why},
    )  # fmt: skip
    assert result.stage == "handling"
    event, actor, notes = stored(h, case)[-1]
    assert (event, actor) == ("assign", "李强")
    assert notes[0].startswith("回避 Conflict of interest overridden as supervisor")
    assert notes[0].endswith(why)

    # The move of a case into the conflict set is refused and recorded just the same.
    with pytest.raises(KesuError, match="被投诉网点员工须回避"):
        await h.kesu.reassign_case(
            case, "陈静", "孙丽", actor="hr", data={"assignee_branch": "浦东支行"}
        )
    assert stored(h, case)[-1][:2] == (ASSIGNMENT_REFUSED_EVENT, "hr")
    view = await h.kesu.get_case(case)
    assert view.state.fields["assignee"] == "陈静"
    assert [step.event for step in view.state.steps][-1] == ASSIGNMENT_REFUSED_EVENT


async def test_over_the_api_a_conflict_is_a_409_with_the_reason_and_a_supervisor_overrides(
    harness: Harness,
) -> None:
    async with api_client(harness.kesu) as http:
        case_id = await open_complaint(
            http, "conflict-api", subject_employee="陈静", branch="浦东支行"
        )
        await http.post(f"/cases/{case_id}/events/accept", headers=AGENT_TOKEN)
        assign = f"/cases/{case_id}/events/assign"
        body = {"data": {"assignee": "陈静", "assignee_branch": "静安支行"}}
        refused(await http.post(assign, json=body, headers=AGENT_TOKEN), 409, "被投诉员工须回避")
        body["data"]["assignee"] = "赵磊"
        assigned = await http.post(assign, json=body, headers=AGENT_TOKEN)
        assert assigned.status_code == 200, assigned.text
        move = {"from_assignee": "赵磊", "to_assignee": "陈静",
                "data": {"assignee_branch": "静安支行"}}  # fmt: skip
        reassign = f"/cases/{case_id}/reassign"
        refused(await http.post(reassign, json=move, headers=SUPERVISOR_TOKEN), 409, "回避")
        move["justification"] = "客户要求 the customer asked for her"
        moved = await http.post(reassign, json=move, headers=SUPERVISOR_TOKEN)
        assert moved.status_code == 200, moved.text
        timeline = (await http.get(f"/cases/{case_id}", headers=SUPERVISOR_TOKEN)).json()
        events = [step["event"] for step in timeline["timeline"]]
        assert events.count(ASSIGNMENT_REFUSED_EVENT) == 2 and events[-1] == "case.reassigned"
        assert timeline["fields"]["assignee"] == "陈静"


async def test_the_bulk_reassign_command_says_the_new_assignees_branch_and_may_override(
    harness: Harness, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    h = harness
    about = {"customer_id": "C-3", "branch": "浦东支行"}
    case = (await h.kesu.start_case("complaint", about, roles=["agent"])).case_id
    await h.kesu.send_event(case, "accept", actor=AGENT[0], roles=AGENT[1])
    data = {"assignee": "陈静", "assignee_branch": "静安支行"}
    await h.kesu.send_event(case, "assign", actor=AGENT[0], roles=AGENT[1], data=data)
    url = sqlite_url(tmp_path)
    move = ("reassign", "--from", "陈静", "--to", "孙丽", "--reason", "离职 left")
    code, shown = await run(h, url, specs, *move)
    assert code == 1 and "say 'assignee_branch' of the new assignee" in shown
    code, shown = await run(h, url, specs, *move, "--with", "assignee_branch=浦东支行")
    assert code == 1 and "被投诉网点员工须回避" in shown
    why = ("--role", "supervisor", "--justification", "网点仅剩一人 the branch's only officer")
    code, shown = await run(h, url, specs, *move, "--with", "assignee_branch=浦东支行", *why)
    assert code == 0, shown
    event, actor, notes = stored(h, case)[-1]
    assert (event, actor) == ("case.reassigned", "starter")
    assert notes[-1].endswith("网点仅剩一人 the branch's only officer")
