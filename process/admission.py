"""Whether a case accepts an event now: the checks behind every update validator.

Each refusal names the event and the stage, so the caller can tell what to fix. Values of
pii fields are never repeated in a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping

from .expressions import Expression
from .fields import data_problems, has_value
from .spec import ProcessDefinition
from .state import CaseState, EventInput


def event_problem(
    definition: ProcessDefinition,
    state: CaseState,
    event: EventInput,
    legal_triggers: list[str],
    guards: Mapping[tuple[str, str], Expression],
) -> str | None:
    name, stage_name = event.event, state.stage
    where = f"event {name!r} in stage {stage_name!r}"
    if state.closed_at is not None:
        return f"{where}: case {state.case_id} is closed"
    stage = definition.stages[stage_name]
    if name not in stage.on or name not in legal_triggers:
        allowed = ", ".join(stage.on) or "none"
        return f"{where}: not allowed here (allowed: {allowed})"
    transition = stage.on[name]
    if transition.roles and not set(event.roles) & set(transition.roles):
        held = ", ".join(event.roles) or "no role"
        return (
            f"{where}: needs role {' or '.join(transition.roles)}; {event.actor!r} acts as {held}"
        )
    for field_name, problem in data_problems(definition.fields, event.data):
        return f"{where}: field {field_name!r}: {problem}"
    missing = [item for item in transition.requires if not has_value(event.data.get(item))]
    if missing:
        return f"{where}: requires input {', '.join(map(repr, missing))}"
    after = {**state.fields, **event.data}
    guard = guards.get((stage_name, name))
    if guard is not None and not guard.test(after):
        return f"{where}: condition not met: {guard.source}"
    target = definition.stages[transition.to]
    unset = [item for item in target.requires if not has_value(after.get(item))]
    if unset:
        return f"{where}: stage {transition.to!r} requires {', '.join(map(repr, unset))} first"
    return None
