"""Conflict of interest (回避) on a real Temporal dev server and database: an assignment into
the case's conflict set is refused with the reason, and the refusal is a stored step of the
case; a supervisor's override with a justification goes ahead and is recorded too."""

from __future__ import annotations

import pytest

from activities.storage import list_events
from process.conflicts import ASSIGNMENT_REFUSED_EVENT
from process.refusals import RefusalKind
from service.cases import KesuError
from tests.temporal_support import Harness

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
