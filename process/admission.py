"""Whether a case accepts an event now: the checks behind every update validator.

Each refusal names the event and the stage, so the caller can tell what to fix. Values of
pii fields are never repeated in a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC

from .access import accepted_inputs, needs_role, roles_allow, undeclared_inputs
from .events import TIMEOUT_EVENT
from .expressions import Context, Expression
from .fields import data_problems, has_value
from .refusals import Refusal, RefusalKind
from .spec import ProcessDefinition
from .state import CaseState, EventInput

Requirement = tuple[Expression, tuple[str, ...]]
"""A parsed ``requires_when`` entry: the condition and the fields it makes required."""


def closed_window(definition: ProcessDefinition, state: CaseState, event: str) -> str | None:
    """The definition's reason when ``event`` belonged to a stage whose timeout closed it."""
    for step in reversed(state.steps):
        if step.event != TIMEOUT_EVENT or step.from_stage is None:
            continue
        left = definition.stages[step.from_stage]
        if left.timeout is None or left.timeout.refuse is None or event not in left.on:
            continue
        if state.stage == step.from_stage:
            return None
        closed = step.at.astimezone(UTC)
        window = f"{left.timeout.after} in stage {step.from_stage!r}"
        return (
            f"{left.timeout.refuse} (the window of {window} closed at {closed:%Y-%m-%d %H:%M} UTC)"
        )
    return None


def event_problem(
    definition: ProcessDefinition,
    state: CaseState,
    event: EventInput,
    legal_triggers: list[str],
    guards: Mapping[tuple[str, str], Expression],
    *,
    declared_inputs: bool = True,
    context: Context | None = None,
    requirements: Mapping[tuple[str, str], Sequence[Requirement]] | None = None,
) -> Refusal | None:
    """``declared_inputs`` is False only for cases opened before events declared their inputs;
    ``requirements`` are the parsed ``requires_when`` of each (stage, event)."""
    name, stage_name = event.event, state.stage
    where = f"event {name!r} in stage {stage_name!r}"

    def refuse(kind: RefusalKind, reason: str) -> Refusal:
        return Refusal(kind=kind, message=f"{where}: {reason}", event=name, stage=stage_name)

    window = closed_window(definition, state, name)
    if window is not None:
        return refuse(RefusalKind.CONFLICT, window)
    if state.closed_at is not None:
        return refuse(RefusalKind.CONFLICT, f"case {state.case_id} is closed")
    stage = definition.stages[stage_name]
    if name not in stage.on or name not in legal_triggers:
        allowed = ", ".join(stage.on) or "none"
        return refuse(RefusalKind.CONFLICT, f"not allowed here (allowed: {allowed})")
    transition = stage.on[name]
    if not roles_allow(transition.roles, event.roles):
        return refuse(RefusalKind.FORBIDDEN, needs_role(transition.roles, event.actor, event.roles))
    if declared_inputs and (undeclared := undeclared_inputs(transition, event.data)):
        accepted = ", ".join(accepted_inputs(transition)) or "none"
        named = ", ".join(map(repr, undeclared))
        reason = f"field {named}: not an input of this event (inputs: {accepted})"
        return refuse(RefusalKind.INVALID, reason)
    for field_name, problem in data_problems(definition.fields, event.data):
        return refuse(RefusalKind.INVALID, f"field {field_name!r}: {problem}")
    missing = [item for item in transition.requires if not has_value(event.data.get(item))]
    if missing:
        return refuse(RefusalKind.INVALID, f"requires input {', '.join(map(repr, missing))}")
    after = {**state.fields, **event.data}
    for condition, fields in (requirements or {}).get((stage_name, name), ()):
        if not condition.test(after, context or Context()):
            continue
        if absent := [item for item in fields if not has_value(event.data.get(item))]:
            named = ", ".join(map(repr, absent))
            return refuse(RefusalKind.INVALID, f"requires input {named} (as {condition.source})")
    guard = guards.get((stage_name, name))
    if guard is not None and not guard.test(after, context or Context()):
        return refuse(RefusalKind.CONFLICT, f"condition not met: {guard.source}")
    target = definition.stages[transition.to]
    unset = [item for item in target.requires if not has_value(after.get(item))]
    if unset:
        needed = ", ".join(map(repr, unset))
        return refuse(RefusalKind.INVALID, f"stage {transition.to!r} requires {needed} first")
    return None
