"""Cross-reference checks of a well-shaped definition.

Each check appends ``(path, message)`` pairs; the loader turns paths into line numbers. Every
check runs, so a designer sees every mistake at once rather than one per attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .access import ANY_ROLE, accepted_inputs, check_access
from .calendars import CalendarSpec
from .conflict_checks import check_conflicts
from .durations import parse_amount, shown
from .events import CASE_OPENED_TRIGGER, RESERVED_EVENTS
from .expression_checks import check_field_names_free, check_guard, check_values
from .expression_types import Scope
from .fields import value_problem
from .merging import check_merging
from .problems import unknown_name, unknown_role
from .reporting import check_reporting
from .spec import Action, FieldType, ProcessDefinition
from .timeouts import check_timeouts

Path = tuple[str | int, ...]
Found = list[tuple[Path, str]]

_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


def check_definition(
    definition: ProcessDefinition, calendars: Mapping[str, CalendarSpec] | None = None
) -> Found:
    found: Found = check_field_names_free(definition)
    _check_fields(definition, found)
    _check_stages(definition, found)
    if not any("unknown stage" in message for _, message in found):
        # With a misspelt stage name, unreachable stages are only its echo: skip them.
        _check_paths(definition, found)
    _check_deadlines(definition, calendars or {}, found)
    found.extend(check_timeouts(definition, calendars or {}))
    _check_decisions(definition, found)
    found.extend(check_reporting(definition))
    found.extend(check_access(definition))
    found.extend(_merging_problems(definition))
    found.extend(check_conflicts(definition))
    return found


def _merging_problems(definition: ProcessDefinition) -> Found:
    stages = definition.stages
    final = {name for name, stage in stages.items() if stage.final}
    on_enter = {name: len(stage.on_enter) for name, stage in stages.items()}
    return check_merging(
        definition.merging, definition.fields, stages, final, definition.roles, on_enter
    )


def _check_fields(definition: ProcessDefinition, found: Found) -> None:
    for name, field in definition.fields.items():
        path: Path = ("fields", name)
        if field.type is FieldType.ENUM and not field.values:
            found.append(((*path, "type"), "an enum field needs 'values'"))
        if field.type is not FieldType.ENUM and field.values is not None:
            found.append(((*path, "values"), "only an enum field has 'values'"))
        if (problem := value_problem(field, field.default)) is not None:
            found.append(((*path, "default"), problem))
    priority = definition.priority_field
    if priority is not None:
        if priority not in definition.fields:
            found.append((("priority_field",), unknown_name("field", priority, definition.fields)))
        elif definition.fields[priority].pii:
            found.append((("priority_field",), "a pii field cannot be shown in listings"))
    if definition.roles:
        for index, role in enumerate(definition.pii_roles):
            if role not in definition.roles:
                found.append((("pii_roles", index), unknown_name("role", role, definition.roles)))


def _check_field_names(
    definition: ProcessDefinition, names: Iterable[str], path: Path, found: Found
) -> None:
    for name in names:
        if name not in definition.fields:
            found.append((path, unknown_name("field", name, definition.fields)))


def _check_guard(
    definition: ProcessDefinition, source: str, path: Path, found: Found, scope: Scope | None = None
) -> None:
    found.extend(check_guard(definition, source, path, scope or Scope(definition.fields)))


def _check_values(
    definition: ProcessDefinition,
    values: Mapping[str, Any],
    path: Path,
    found: Found,
    scope: Scope | None = None,
) -> None:
    found.extend(check_values(definition, values, path, scope or Scope(definition.fields)))


def _check_actions(
    definition: ProcessDefinition,
    actions: list[Action],
    path: Path,
    found: Found,
    *,
    moves: bool,
    scope: Scope | None = None,
) -> None:
    for index, action in enumerate(actions):
        here = (*path, index)
        if action.set is not None:
            _check_values(definition, action.set, (*here, "set"), found, scope)
        if action.decide is not None and action.decide not in definition.decisions:
            message = unknown_name("decision table", action.decide, definition.decisions)
            found.append(((*here, "decide"), message))
        if action.to is not None:
            if not moves:
                found.append(((*here, "to"), "'to' is not allowed here; use a transition"))
            elif action.to not in definition.stages:
                found.append(((*here, "to"), unknown_name("stage", action.to, definition.stages)))


def _check_stages(definition: ProcessDefinition, found: Found) -> None:
    stages = definition.stages
    initial = [name for name, stage in stages.items() if stage.initial]
    if len(initial) != 1:
        named = ", ".join(initial) if initial else "none is"
        found.append((("stages",), f"exactly one stage must be initial: true ({named})"))
    if not any(stage.final for stage in stages.values()):
        found.append((("stages",), "no stage is final: true, so no case could ever end"))
    for name, stage in stages.items():
        path: Path = ("stages", name)
        if stage.final and (stage.on or stage.timeout):
            found.append((path, "a final stage ends the case: it cannot have 'on' or 'timeout'"))
        if stage.initial and stage.final:
            found.append((path, "the initial stage cannot also be final"))
        _check_actions(definition, stage.on_enter, (*path, "on_enter"), found, moves=False)
        _check_field_names(definition, stage.requires, (*path, "requires"), found)
        for clock in stage.pauses:
            if clock not in definition.deadlines:
                message = unknown_name("deadline", clock, definition.deadlines)
                found.append(((*path, "pauses"), message))
        for event, transition in stage.on.items():
            here: Path = (*path, "on", event)
            if event in RESERVED_EVENTS:
                found.append((here, f"{event!r} is reserved for kesu's own moves; rename it"))
            if transition.to not in stages:
                found.append(((*here, "to"), unknown_name("stage", transition.to, stages)))
            if definition.roles:
                for role in transition.roles:
                    if role not in definition.roles and role != ANY_ROLE:
                        message = unknown_role(role, definition.roles)
                        found.append(((*here, "roles"), message))
            _check_field_names(definition, transition.requires, (*here, "requires"), found)
            scope = Scope.of_event(definition.fields, accepted_inputs(transition))
            for index, needed in enumerate(transition.requires_when):
                at: Path = (*here, "requires_when", index)
                _check_field_names(definition, needed.fields, (*at, "fields"), found)
                _check_guard(definition, needed.when, (*at, "when"), found, scope)
            _check_actions(
                definition, transition.actions, (*here, "actions"), found, moves=False, scope=scope
            )
            if transition.when is not None:
                _check_guard(definition, transition.when, (*here, "when"), found, scope)
        if stage.timeout is not None:
            here = (*path, "timeout")
            if stage.timeout.to not in stages:
                found.append(((*here, "to"), unknown_name("stage", stage.timeout.to, stages)))
            _check_actions(
                definition, stage.timeout.actions, (*here, "actions"), found, moves=False
            )


def _next_stages(definition: ProcessDefinition, name: str) -> set[str]:
    stage = definition.stages[name]
    targets = {transition.to for transition in stage.on.values()}
    if stage.timeout is not None:
        targets.add(stage.timeout.to)
    merging = definition.merging
    if not stage.final and merging is not None and merging.stage in definition.stages:
        targets.add(merging.stage)  # an open case may be merged into another
    if not stage.final:
        # A breached deadline may move the case from any stage that is still open.
        for deadline in definition.deadlines.values():
            targets.update(action.to for action in deadline.on_breach if action.to)
    return {target for target in targets if target in definition.stages}


def _check_paths(definition: ProcessDefinition, found: Found) -> None:
    stages = definition.stages
    initial = [name for name, stage in stages.items() if stage.initial]
    if len(initial) != 1:
        return  # already reported; reachability would only repeat it
    reachable, frontier = {initial[0]}, [initial[0]]
    while frontier:
        for target in _next_stages(definition, frontier.pop()) - reachable:
            reachable.add(target)
            frontier.append(target)
    # Report causes before consequences: a stage reached only through an unreachable one, or
    # a stage that cannot end because a later one is a dead end, adds nothing to read.
    targets_of_unreachable = set().union(
        *(_next_stages(definition, name) for name in stages if name not in reachable)
    )
    before = len(found)
    for name, stage in stages.items():
        path: Path = ("stages", name)
        if name not in reachable and name not in targets_of_unreachable:
            found.append((path, f"stage {name!r} cannot be reached from {initial[0]!r}"))
        elif name in reachable and not stage.final and not stage.on and stage.timeout is None:
            message = f"stage {name!r} has no way out: add 'on' or 'timeout', or mark it final"
            found.append((path, message))
    if len(found) > before:
        return
    ending = {name for name, stage in stages.items() if stage.final}
    changed = True
    while changed:
        size = len(ending)
        ending |= {name for name in stages if _next_stages(definition, name) & ending}
        changed = len(ending) != size
    for name in stages:
        if name not in ending:
            found.append((("stages", name), f"from stage {name!r} no path leads to a final stage"))


def _declared_events(definition: ProcessDefinition) -> set[str]:
    events = {CASE_OPENED_TRIGGER, *RESERVED_EVENTS}
    for stage in definition.stages.values():
        events.update(stage.on)
    return events


def _check_deadlines(
    definition: ProcessDefinition, calendars: Mapping[str, CalendarSpec], found: Found
) -> None:
    events = _declared_events(definition)
    for name, deadline in definition.deadlines.items():
        path: Path = ("deadlines", name)
        triggers_by_part = {
            "start": deadline.start, "stop": deadline.stop, "pause": deadline.pause,
            "resume": deadline.resume, "restart": deadline.restart,
        }  # fmt: skip
        for part, triggers in triggers_by_part.items():
            for index, trigger in enumerate(triggers):
                here: Path = (*path, part, index)
                for stage in (trigger.enter, trigger.leave):
                    if stage is not None and stage not in definition.stages:
                        found.append((here, unknown_name("stage", stage, definition.stages)))
                if trigger.event is not None and trigger.event not in events:
                    found.append((here, unknown_name("event", trigger.event, events)))
                if trigger.field is not None:
                    found.extend(_origin_problems(definition, part, trigger.field, here))
                if trigger.when is not None:
                    _check_guard(definition, trigger.when, (*here, "when"), found)
        _check_clock(definition, name, calendars, path, found)
        _check_targets(definition, name, path, found)
        for index, warning in enumerate(deadline.warn):
            _check_warning(warning, deadline.clock, (*path, "warn", index), found)
        _check_actions(definition, deadline.on_warn, (*path, "on_warn"), found, moves=False)
        _check_actions(definition, deadline.on_breach, (*path, "on_breach"), found, moves=True)
        for index, rung in enumerate(deadline.escalate):
            here = (*path, "escalate", index)
            if parse_amount(rung.after).working_days:
                found.append(((*here, "after"), "escalate after hours or minutes, not 'wd'"))
            _check_actions(definition, rung.actions, (*here, "actions"), found, moves=True)


def _origin_problems(definition: ProcessDefinition, part: str, field: str, path: Path) -> Found:
    """A clock counts from a date field only when it starts or restarts, and only from a date."""
    where: Path = (*path, "field")
    if part not in ("start", "restart"):
        message = (
            f"'field' belongs to 'start' or 'restart' (a clock counts from a date), not {part!r}"
        )
        return [(where, message)]
    spec = definition.fields.get(field)
    if spec is None:
        return [(where, unknown_name("field", field, definition.fields))]
    if spec.type not in (FieldType.DATE, FieldType.DATETIME):
        message = f"field {field!r} is {spec.type.value}: a clock counts from a date or datetime"
        return [(where, message)]
    return []


def _check_clock(
    definition: ProcessDefinition,
    name: str,
    calendars: Mapping[str, CalendarSpec],
    path: Path,
    found: Found,
) -> None:
    """A business clock needs a known calendar; each clock accepts only its own units."""
    deadline = definition.deadlines[name]
    targets = (
        [((*path, "within"), deadline.within)]
        if isinstance(deadline.within, str)
        else [((*path, "within", key), text) for key, text in deadline.within.items()]
    )
    if deadline.clock == "calendar":
        for where, text in targets:
            if parse_amount(text).working_days:
                found.append((where, f"{text!r}: working days (wd) need clock: business"))
            if parse_amount(text).months:
                found.append((where, f"{text!r}: months (mo) need clock: legal"))
        return
    calendar = deadline.calendar or definition.calendar
    if calendar is None:
        message = (
            f"a {deadline.clock} clock needs a calendar: set 'calendar' here or for the process"
        )
        found.append(((*path, "clock"), message))
    elif calendar not in calendars:
        where = (*path, "calendar") if deadline.calendar else ("calendar",)
        found.append((where, unknown_name("calendar", calendar, calendars)))
    if deadline.clock == "legal":
        for where, text in targets:
            if parse_amount(text).units - {"d", "mo"}:
                message = f"{text!r}: a legal clock counts days (d) and months (mo), e.g. 15d, 1mo"
                found.append((where, message))
        return
    for where, text in targets:
        if parse_amount(text).months:
            found.append((where, f"{text!r}: months (mo) need clock: legal"))
        if parse_amount(text).units & {"d", "w"}:
            message = (
                f"{text!r}: on a business clock write working days as 'wd' and working time in "
                "h or m ('d' would be ambiguous)"
            )
            found.append((where, message))


def _check_targets(definition: ProcessDefinition, name: str, path: Path, found: Found) -> None:
    deadline = definition.deadlines[name]
    if isinstance(deadline.within, str):
        if deadline.by is not None:
            found.append(((*path, "by"), "'by' needs 'within' to give one duration per value"))
        return
    if deadline.by is None:
        found.append(((*path, "within"), "durations per value need 'by: <enum field>'"))
        return
    field = definition.fields.get(deadline.by)
    if field is None:
        found.append(((*path, "by"), unknown_name("field", deadline.by, definition.fields)))
        return
    if field.type is not FieldType.ENUM:
        found.append(((*path, "by"), f"field {deadline.by!r} is not an enum"))
        return
    values = field.values or []
    for value in deadline.within:
        if value not in values:
            found.append(((*path, "within", value), f"{value!r} is not a value of {deadline.by}"))
    missing = [value for value in values if value not in deadline.within]
    if missing:
        found.append(((*path, "within"), f"no duration for {', '.join(map(repr, missing))}"))
    if field.default is None and not field.required:
        message = f"field {deadline.by!r} may be unset: give it a default or make it required"
        found.append(((*path, "by"), message))


def _check_warning(warning: str, clock: str, path: Path, found: Found) -> None:
    share = _PERCENT.match(warning.strip())
    if share:
        if not 0 < float(share.group(1)) < 100:
            found.append((path, f"warning {warning!r} must be between 0% and 100%"))
        return
    try:
        amount = parse_amount(warning)
    except ValueError as error:
        if "at most" in str(error):
            found.append((path, str(error).replace("bad duration", "warning", 1)))
        else:
            message = f"warning {shown(warning)} is neither a share (75%) nor a time (15m)"
            found.append((path, message))
        return
    if amount.working_days and clock != "business":
        found.append((path, f"warning {shown(warning)}: working days (wd) need clock: business"))
    elif amount.months:
        found.append((path, f"warning {shown(warning)}: write a time (3d, 4h), not months"))


def _check_decisions(definition: ProcessDefinition, found: Found) -> None:
    for table, rules in definition.decisions.items():
        if not rules:
            found.append((("decisions", table), "a decision table needs at least one rule"))
        for index, rule in enumerate(rules):
            path: Path = ("decisions", table, index)
            _check_guard(definition, rule.when, (*path, "when"), found)
            _check_values(definition, rule.set, (*path, "set"), found)
