"""Conflict of interest (回避) on the pure engine and at load: no Temporal, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from process.compiler import CompiledSpec, compile_definition
from process.conflicts import ASSIGNMENT_REFUSED_EVENT
from process.engine import CaseEngine, RecordedRefusal
from process.loader import DefinitionError, load_definition, load_definition_text
from process.refusals import IllegalEvent, RefusalKind
from process.state import EventInput, ReassignInput

DEFINITIONS = Path(__file__).parent.parent / "definitions"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
AGENT = ("王敏", ["agent"])
SUPERVISOR = ("李强", ["supervisor"])


@pytest.fixture(scope="module")
def complaint() -> CompiledSpec:
    return compile_definition(load_definition(DEFINITIONS / "complaint.yaml"))


def in_triage(spec: CompiledSpec, **fields: object) -> CaseEngine:
    given = {"customer_id": "C-1", "subject_employee": "陈静", "branch": "浦东支行", **fields}
    engine, _ = CaseEngine.open(spec, "complaint-c1", given, "web", T0)
    engine.apply_event(EventInput(event="accept", actor=AGENT[0], roles=AGENT[1]), T0)
    return engine


def assign(who: tuple[str, list[str]], **data: object) -> EventInput:
    return EventInput(event="assign", actor=who[0], roles=who[1], data=data)


def test_the_employee_complained_about_is_refused_and_the_refusal_recorded(
    complaint: CompiledSpec,
) -> None:
    engine = in_triage(complaint)
    attempt = assign(AGENT, assignee="陈静", assignee_branch="静安支行")
    problem = engine.check_event(attempt, T0)
    assert problem is not None and problem.kind is RefusalKind.CONFLICT and problem.record
    assert "被投诉员工须回避" in problem.message and "(subject_employee)" in problem.message
    assert "supervisor may override with a justification" in problem.message
    with pytest.raises(RecordedRefusal) as refused:
        engine.apply_event(attempt, T0)
    step = refused.value.outcome.step
    assert (step.event, step.actor, step.role) == (ASSIGNMENT_REFUSED_EVENT, "王敏", "agent")
    assert step.data == {"event": "assign", "assignee": "陈静", "assignee_branch": "静安支行"}
    assert step.notes == [problem.message]
    assert (step.from_stage, step.to_stage) == ("triage", "triage")
    assert engine.state.stage == "triage" and engine.state.fields.get("assignee") is None
    assert engine.state.steps[-1] is step


def test_staff_of_the_branch_complained_about_are_refused(complaint: CompiledSpec) -> None:
    engine = in_triage(complaint)
    problem = engine.check_event(assign(AGENT, assignee="赵磊", assignee_branch="浦东支行"), T0)
    assert problem is not None and problem.record and "被投诉网点员工须回避" in problem.message
    # Not the same branch, not the same person: assigned.
    outcome = engine.apply_event(assign(AGENT, assignee="赵磊", assignee_branch="静安支行"), T0)
    assert outcome.step.to_stage == "handling" and outcome.step.notes[:1] != ["回避"]


def test_an_assignment_that_does_not_say_the_assignees_branch_fails_closed(
    complaint: CompiledSpec,
) -> None:
    engine = in_triage(complaint)
    problem = engine.check_event(assign(AGENT, assignee="赵磊"), T0)
    assert problem is not None and problem.kind is RefusalKind.INVALID and not problem.record
    assert "say 'assignee_branch' of the new assignee" in problem.message
    with pytest.raises(IllegalEvent) as refused:
        engine.apply_event(assign(AGENT, assignee="赵磊"), T0)
    assert not isinstance(refused.value, RecordedRefusal)
    # A case about no branch needs no branch of its assignee.
    engine = in_triage(complaint, branch=None)
    assert engine.check_event(assign(AGENT, assignee="赵磊"), T0) is None


def test_a_supervisor_overrides_with_a_justification_which_is_recorded(
    complaint: CompiledSpec,
) -> None:
    engine = in_triage(complaint)
    why = "唯一熟悉该产品的员工 the only one who knows the product"
    override = assign(SUPERVISOR, assignee="陈静", assignee_branch="静安支行",
                      conflict_justification=why)  # fmt: skip
    assert engine.check_event(override, T0) is None
    step = engine.apply_event(override, T0).step
    assert step.to_stage == "handling" and engine.state.fields["assignee"] == "陈静"
    assert step.notes[0] == (
        "回避 Conflict of interest overridden as supervisor: 被投诉员工须回避 the employee "
        f"complained about may not handle the complaint (subject_employee); justification: {why}"
    )


def test_only_the_override_roles_may_justify(complaint: CompiledSpec) -> None:
    engine = in_triage(complaint)
    attempt = assign(AGENT, assignee="陈静", assignee_branch="静安支行", conflict_justification="x")
    problem = engine.check_event(attempt, T0)
    assert problem is not None and problem.kind is RefusalKind.FORBIDDEN
    assert "only supervisor may override" in problem.message


def handling(spec: CompiledSpec) -> CaseEngine:
    engine = in_triage(spec)
    engine.apply_event(assign(AGENT, assignee="赵磊", assignee_branch="静安支行"), T0)
    return engine


def test_reassigning_into_the_conflict_set_is_refused_and_recorded(
    complaint: CompiledSpec,
) -> None:
    engine = handling(complaint)
    move = ReassignInput(from_assignee="赵磊", to_assignee="陈静", actor="hr",
                         data={"assignee_branch": "静安支行"})  # fmt: skip
    problem = engine.reassign_problem(move)
    assert problem is not None and problem.record and problem.message.startswith("reassigning")
    with pytest.raises(RecordedRefusal) as refused:
        engine.reassign(move, T0)
    assert refused.value.outcome.step.event == ASSIGNMENT_REFUSED_EVENT
    assert engine.state.fields["assignee"] == "赵磊"
    missing = ReassignInput(from_assignee="赵磊", to_assignee="孙丽", actor="hr")
    problem = engine.reassign_problem(missing)
    assert problem is not None and problem.kind is RefusalKind.INVALID
    stray = missing.model_copy(update={"data": {"phone": "1"}})
    problem = engine.reassign_problem(stray)
    assert problem is not None and "field 'phone': not asked" in problem.message


def test_a_supervisor_reassigns_despite_a_conflict_with_a_justification(
    complaint: CompiledSpec,
) -> None:
    engine = handling(complaint)
    move = ReassignInput(
        from_assignee="赵磊", to_assignee="陈静", actor="李强", roles=["supervisor"],
        data={"assignee_branch": "静安支行"}, justification="客户同意 the customer agreed",
    )  # fmt: skip
    step = engine.reassign(move, T0).step
    assert step.role == "supervisor" and step.notes[-1].endswith("客户同意 the customer agreed")
    assert engine.state.fields["assignee_branch"] == "静安支行"


def test_a_process_without_conflicts_reassigns_as_before() -> None:
    spec = compile_definition(load_definition(DEFINITIONS / "service_request.yaml"))
    assert spec.definition.conflicts is None
    assert "conflicts" not in spec.definition.model_dump()


BASE = """\
process: demo
version: 1
roles: [agent, supervisor]
opened_by: [agent]
fields:
  assignee: {type: string}
  subject: {type: string}
  branch: {type: string}
  count: {type: integer}
stages:
  intake:
    initial: true
    on:
      assign: {to: done, roles: [agent, supervisor], requires: [assignee]}
  done: {final: true}
conflicts:
  rules:
    - {field: subjet, reason: r}
    - {field: branch, assignee_field: assignee_branch, reason: r}
    - {field: count, reason: r}
  override_roles: [boss]
"""


def test_conflicts_are_checked_at_load_with_file_and_line() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(BASE, "demo.yaml")
    assert caught.value.problems == [
        "demo.yaml:14: stages.intake.on.assign: event 'assign' sets 'assignee' but cannot carry "
        "'assignee_branch', which the conflict rules need: add it to its inputs",
        "demo.yaml:16: conflicts: override_roles need a justification field to record",
        "demo.yaml:18: conflicts.rules.0.field: unknown field 'subjet'; did you mean 'subject'?",
        "demo.yaml:19: conflicts.rules.1.assignee_field: unknown field 'assignee_branch'; "
        "did you mean 'assignee'?",
        "demo.yaml:20: conflicts.rules.2.field: field 'count' is integer: name a text field",
        "demo.yaml:21: conflicts.override_roles.0: unknown role 'boss' (the roles are agent, "
        "supervisor)",
    ]


def test_a_misspelt_conflicts_key_is_a_shape_error() -> None:
    text = BASE.replace("  override_roles: [boss]\n", "  overide_roles: [supervisor]\n")
    with pytest.raises(DefinitionError, match=r"demo.yaml:21: conflicts.overide_roles"):
        load_definition_text(text, "demo.yaml")
