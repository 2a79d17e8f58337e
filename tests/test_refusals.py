"""Every refusal the engine gives carries the kind the API answers with (403/409/422).

The refusals are decided in ``process/admission.py`` and ``CaseEngine.reassign_problem``;
these tests drive each branch there and check the kind each one is given.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from process.compiler import CompiledSpec
from process.engine import CaseEngine
from process.refusals import Refusal, RefusalKind, refusal_kind_of
from process.state import EventInput, ReassignInput

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def opened(specs: dict[str, CompiledSpec], process: str = "complaint") -> CaseEngine:
    engine, _ = CaseEngine.open(specs[process], "case-1", {"customer_id": "C-1"}, "王敏", AT)
    return engine


def problem(engine: CaseEngine, event: str, roles: list[str], **data: object) -> Refusal:
    found = engine.check_event(EventInput(event=event, actor="王敏", roles=roles, data=data))
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("stage", "event", "roles", "data", "kind"),
    [
        ("intake", "close", ["supervisor"], {}, RefusalKind.CONFLICT),  # not allowed here
        ("intake", "no_such_event", ["agent"], {}, RefusalKind.CONFLICT),
        ("intake", "accept", ["handler"], {}, RefusalKind.FORBIDDEN),  # needs role
        ("intake", "accept", [], {}, RefusalKind.FORBIDDEN),
        ("intake", "accept", ["agent"], {"severity": 3}, RefusalKind.INVALID),  # wrong type
        ("intake", "accept", ["agent"], {"colour": "red"}, RefusalKind.INVALID),  # unknown field
        ("triage", "assign", ["agent"], {}, RefusalKind.INVALID),  # requires input
        ("triage", "assign", ["agent"], {"assignee": "a\x00b"}, RefusalKind.INVALID),  # NUL
        ("triage", "assign", ["agent"], {"assignee": "\ud800"}, RefusalKind.INVALID),  # surrogate
        ("feedback", "satisfied", ["customer"], {"csat": 2**70}, RefusalKind.INVALID),  # overflow
        (
            "triage",
            "assign",
            ["agent"],
            {"assignee": "x", "csat": 5},
            RefusalKind.INVALID,
        ),  # undeclared
        ("triage", "escalate", ["agent"], {}, RefusalKind.CONFLICT),  # condition not met
        ("closure", "close", ["handler"], {}, RefusalKind.INVALID),  # requires input
        ("review", "uphold", ["reviewer"], {}, RefusalKind.INVALID),  # 'closed' requires a field
    ],
)
def test_event_refusals(
    specs: dict[str, CompiledSpec],
    stage: str,
    event: str,
    roles: list[str],
    data: dict[str, object],
    kind: RefusalKind,
) -> None:
    engine = opened(specs)
    engine.state.stage = stage
    refusal = problem(engine, event, roles, **data)
    assert refusal.message.startswith(f"event {event!r} in stage {stage!r}: ")
    assert (refusal.event, refusal.stage) == (event, stage)
    assert refusal.kind is kind, refusal.message


def test_a_closed_case_refuses_with_a_conflict(specs: dict[str, CompiledSpec]) -> None:
    engine = opened(specs)
    engine.state.closed_at = AT
    refusal = problem(engine, "accept", ["agent"])
    assert "is closed" in refusal.message and refusal.kind is RefusalKind.CONFLICT


@pytest.mark.parametrize(
    ("assignee", "request_", "kind"),
    [
        (None, ReassignInput(from_assignee="陈静", to_assignee="赵磊"), RefusalKind.CONFLICT),
        ("陈静", ReassignInput(from_assignee="陈静", to_assignee=" "), RefusalKind.INVALID),
    ],
)
def test_reassign_refusals(
    specs: dict[str, CompiledSpec],
    assignee: str | None,
    request_: ReassignInput,
    kind: RefusalKind,
) -> None:
    engine = opened(specs)
    engine.state.fields["assignee"] = assignee
    refusal = engine.reassign_problem(request_)
    assert refusal is not None and refusal.kind is kind, refusal
    engine.state.closed_at = AT
    closed = engine.reassign_problem(request_)
    assert closed is not None and closed.kind is RefusalKind.CONFLICT


def test_an_unknown_failure_type_is_a_conflict() -> None:
    assert refusal_kind_of("SomethingNew") is RefusalKind.CONFLICT
    assert refusal_kind_of(None) is RefusalKind.CONFLICT
    assert refusal_kind_of("forbidden") is RefusalKind.FORBIDDEN
