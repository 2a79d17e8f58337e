"""Whether a case accepts an event now: the checks behind every update validator.

Each refusal names the event and the stage, so the caller can tell what to fix. Values of
pii fields are never repeated in a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping

from .expressions import Expression
from .fields import data_problems, has_value
from .refusals import Refusal, RefusalKind
from .spec import ProcessDefinition
from .state import CaseState, EventInput


def event_problem(
    definition: ProcessDefinition,
    state: CaseState,
    event: EventInput,
    legal_triggers: list[str],
    guards: Mapping[tuple[str, str], Expression],
) -> Refusal | None:
    name, stage_name = event.event, state.stage
    where = f"event {name!r} in stage {stage_name!r}"

    def refuse(kind: RefusalKind, reason: str) -> Refusal:
        return Refusal(kind=kind, message=f"{where}: {reason}", event=name, stage=stage_name)

    if state.closed_at is not None:
        return refuse(RefusalKind.CONFLICT, f"case {state.case_id} is closed")
    stage = definition.stages[stage_name]
    if name not in stage.on or name not in legal_triggers:
        allowed = ", ".join(stage.on) or "none"
        return refuse(RefusalKind.CONFLICT, f"not allowed here (allowed: {allowed})")
    transition = stage.on[name]
    if transition.roles and not set(event.roles) & set(transition.roles):
        held = ", ".join(event.roles) or "no role"
        needs = " or ".join(transition.roles)
        return refuse(RefusalKind.FORBIDDEN, f"needs role {needs}; {event.actor!r} acts as {held}")
    for field_name, problem in data_problems(definition.fields, event.data):
        return refuse(RefusalKind.INVALID, f"field {field_name!r}: {problem}")
    missing = [item for item in transition.requires if not has_value(event.data.get(item))]
    if missing:
        return refuse(RefusalKind.INVALID, f"requires input {', '.join(map(repr, missing))}")
    after = {**state.fields, **event.data}
    guard = guards.get((stage_name, name))
    if guard is not None and not guard.test(after):
        return refuse(RefusalKind.CONFLICT, f"condition not met: {guard.source}")
    target = definition.stages[transition.to]
    unset = [item for item in target.requires if not has_value(after.get(item))]
    if unset:
        needed = ", ".join(map(repr, unset))
        return refuse(RefusalKind.INVALID, f"stage {transition.to!r} requires {needed} first")
    return None
