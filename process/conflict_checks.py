"""Load checks of ``conflicts:`` (回避): the fields and roles it names exist and can be used.

An assignment event that cannot carry what a rule needs would refuse every assignment, so that
is a load error too, naming the event.
"""

from __future__ import annotations

from .access import accepted_inputs
from .problems import unknown_name, unknown_role
from .spec import FieldType, ProcessDefinition

Found = list[tuple[tuple[str | int, ...], str]]

_TEXT_TYPES = (FieldType.STRING, FieldType.TEXT, FieldType.ENUM)


def check_conflicts(definition: ProcessDefinition) -> Found:
    conflicts = definition.conflicts
    if conflicts is None:
        return []
    found: Found = []
    fields = definition.fields
    here: tuple[str | int, ...] = ("conflicts",)

    def field_problem(name: str, path: tuple[str | int, ...]) -> bool:
        if name not in fields:
            found.append((path, unknown_name("field", name, fields)))
            return True
        if fields[name].type not in _TEXT_TYPES:
            found.append((path, f"field {name!r} is {fields[name].type}: name a text field"))
            return True
        return False

    field_problem(conflicts.assignee, (*here, "assignee"))
    for index, rule in enumerate(conflicts.rules):
        field_problem(rule.field, (*here, "rules", index, "field"))
        if rule.assignee_field is not None:
            field_problem(rule.assignee_field, (*here, "rules", index, "assignee_field"))
            if rule.assignee_field in (rule.field, conflicts.assignee):
                found.append(((*here, "rules", index, "assignee_field"), "name a field of its own"))
    for index, role in enumerate(conflicts.override_roles):
        if definition.roles and role not in definition.roles:
            found.append(((*here, "override_roles", index), unknown_role(role, definition.roles)))
    justification = conflicts.justification
    if conflicts.override_roles and justification is None:
        found.append(((*here,), "override_roles need a justification field to record"))
    if justification is not None:
        field_problem(justification, (*here, "justification"))
        if not conflicts.override_roles:
            found.append(((*here, "justification"), "no override_roles: nobody could give it"))
    _check_assigning_events(definition, found)
    return found


def _check_assigning_events(definition: ProcessDefinition, found: Found) -> None:
    """Every event that may set the assignee carries what the rules need of the new one."""
    conflicts = definition.conflicts
    assert conflicts is not None
    for stage_name, stage in definition.stages.items():
        for event, transition in stage.on.items():
            accepted = accepted_inputs(transition)
            if conflicts.assignee not in accepted:
                continue
            path: tuple[str | int, ...] = ("stages", stage_name, "on", event)
            for name in conflicts.assignee_fields():
                if name not in accepted:
                    found.append(
                        (path, f"event {event!r} sets {conflicts.assignee!r} but cannot carry "
                         f"{name!r}, which the conflict rules need: add it to its inputs")
                    )  # fmt: skip
            justification = conflicts.justification
            overriders = set(transition.roles) & set(conflicts.override_roles)
            if justification is not None and overriders and justification not in accepted:
                found.append(
                    (path, f"event {event!r}: {', '.join(sorted(overriders))} may override a "
                     f"conflict here but the event cannot carry {justification!r}: add it to "
                     "its inputs")
                )  # fmt: skip
