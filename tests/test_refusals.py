"""Every refusal the engine gives is sorted into the kind the API answers with (403/409/422).

The messages are produced by ``workflows/admission.py`` and ``CaseEngine.reassign_problem``;
these tests drive each branch there, so a reworded message cannot silently change its status.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from process.compiler import CompiledSpec
from process.engine import CaseEngine
from process.state import EventInput, ReassignInput
from service.refusals import Refusal, refusal_kind

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def opened(specs: dict[str, CompiledSpec], process: str = "complaint") -> CaseEngine:
    engine, _ = CaseEngine.open(specs[process], "case-1", {"customer_id": "C-1"}, "王敏", AT)
    return engine


def problem(engine: CaseEngine, event: str, roles: list[str], **data: object) -> str:
    found = engine.check_event(EventInput(event=event, actor="王敏", roles=roles, data=data))
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("stage", "event", "roles", "data", "kind"),
    [
        ("intake", "close", ["supervisor"], {}, Refusal.CONFLICT),  # not allowed here
        ("intake", "no_such_event", ["agent"], {}, Refusal.CONFLICT),
        ("intake", "accept", ["handler"], {}, Refusal.FORBIDDEN),  # needs role
        ("intake", "accept", [], {}, Refusal.FORBIDDEN),
        ("intake", "accept", ["agent"], {"severity": 3}, Refusal.INVALID),  # wrong type
        ("intake", "accept", ["agent"], {"colour": "red"}, Refusal.INVALID),  # unknown field
        ("triage", "assign", ["agent"], {}, Refusal.INVALID),  # requires input
        ("triage", "escalate", ["agent"], {}, Refusal.CONFLICT),  # condition not met
        ("closure", "close", ["handler"], {}, Refusal.INVALID),  # requires input
        ("review", "uphold", ["reviewer"], {}, Refusal.INVALID),  # 'closed' requires a field
    ],
)
def test_event_refusals(
    specs: dict[str, CompiledSpec],
    stage: str,
    event: str,
    roles: list[str],
    data: dict[str, object],
    kind: Refusal,
) -> None:
    engine = opened(specs)
    engine.state.stage = stage
    message = problem(engine, event, roles, **data)
    assert message.startswith(f"event {event!r} in stage {stage!r}: ")
    assert refusal_kind(message) is kind, message


def test_a_closed_case_refuses_with_a_conflict(specs: dict[str, CompiledSpec]) -> None:
    engine = opened(specs)
    engine.state.closed_at = AT
    message = problem(engine, "accept", ["agent"])
    assert "is closed" in message and refusal_kind(message) is Refusal.CONFLICT


@pytest.mark.parametrize(
    ("assignee", "request_", "kind"),
    [
        (None, ReassignInput(from_assignee="陈静", to_assignee="赵磊"), Refusal.CONFLICT),
        ("陈静", ReassignInput(from_assignee="陈静", to_assignee=" "), Refusal.INVALID),
    ],
)
def test_reassign_refusals(
    specs: dict[str, CompiledSpec], assignee: str | None, request_: ReassignInput, kind: Refusal
) -> None:
    engine = opened(specs)
    engine.state.fields["assignee"] = assignee
    message = engine.reassign_problem(request_)
    assert message is not None and refusal_kind(message) is kind, message
    engine.state.closed_at = AT
    closed = engine.reassign_problem(request_)
    assert closed is not None and refusal_kind(closed) is Refusal.CONFLICT


def test_an_unknown_message_is_a_conflict() -> None:
    assert refusal_kind("something new the engine says") is Refusal.CONFLICT
