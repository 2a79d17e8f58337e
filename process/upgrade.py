"""Moving a running case to a newer version of its definition: the check and the step.

Pure, like the engine: the workflow applies the step (a Temporal update) and records it like
any other. The case's stage maps by name, or through the caller's ``stage_map`` for renamed
stages; fields carry over by name, or through ``field_map`` for renamed fields (checked: the
new field exists, its type takes the old one's values, and customer data stays customer data);
deadline clocks carry over by name. A clock the target adds starts if its
start rule points at the case's opening or at the stage the case is in; a clock the target
drops is stopped; every change is a note of the ``case.upgraded`` step.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from .clockboard import ClockBoard
from .clocks import ClockState
from .compiler import CompiledSpec
from .events import CASE_OPENED_TRIGGER, UPGRADED_EVENT
from .fields import data_problems
from .refusals import Refusal, RefusalKind
from .spec import FieldSpec, FieldType
from .state import CaseState, Step

__all__ = [
    "UPGRADED_EVENT",
    "UpgradeInput",
    "carried_fields",
    "field_map_problems",
    "upgrade_case",
    "upgrade_problem",
]


class UpgradeInput(BaseModel):
    """Move a case to the published definition ``to_definition`` (a content hash)."""

    to_definition: str
    stage_map: dict[str, str] = Field(default_factory=dict)
    """Old stage -> stage of the target, for stages the target renamed or removed."""
    actor: str = "system"
    field_map: dict[str, str] = Field(default_factory=dict)
    """Old field -> field of the target, for fields the target renamed."""


def _versions(source: CompiledSpec, target: CompiledSpec) -> str:
    return f"v{source.version} → v{target.version}"


_WIDER: dict[FieldType, frozenset[FieldType]] = {
    FieldType.STRING: frozenset({FieldType.TEXT}),
    FieldType.TEXT: frozenset({FieldType.STRING}),
    FieldType.INTEGER: frozenset({FieldType.NUMBER}),
    FieldType.ENUM: frozenset({FieldType.STRING, FieldType.TEXT}),
}
"""Types whose every value the key's values also are (a case's value is checked again)."""


def _type_problem(old: FieldSpec, new: FieldSpec) -> str | None:
    if old.type is FieldType.ENUM and new.type is FieldType.ENUM:
        missing = [value for value in old.values or [] if value not in (new.values or [])]
        return f"values {', '.join(missing)} are not among its values" if missing else None
    if old.type is new.type or new.type in _WIDER.get(old.type, frozenset()):
        return None
    return f"a {old.type.value} cannot become a {new.type.value}"


def field_map_problems(
    source: CompiledSpec, target: CompiledSpec, field_map: Mapping[str, str]
) -> list[str]:
    """What is wrong with carrying the source's fields over (renamed by ``field_map``).

    Fails closed on customer data: a field that is pii in the source must land on a pii
    field of the target, renamed or not (it may become pii, never stop being it).
    """
    old_fields, new_fields = source.definition.fields, target.definition.fields
    v_old, v_new = f"v{source.version}", f"v{target.version}"
    problems: list[str] = []
    landing: dict[str, list[str]] = {}
    for old in old_fields:
        new = field_map.get(old, old)
        if new in new_fields:
            landing.setdefault(new, []).append(old)
    for old, new in field_map.items():
        pair = f"--map-field {old}={new}"
        if old not in old_fields:
            problems.append(f"{pair}: {v_old} has no field {old!r}")
        elif new not in new_fields:
            problems.append(f"{pair}: {v_new} has no field {new!r}")
        elif (problem := _type_problem(old_fields[old], new_fields[new])) is not None:
            problems.append(f"{pair}: {problem} ({v_old} {old!r} → {v_new} {new!r})")
    for new, olds in sorted(landing.items()):
        if len(olds) > 1:
            problems.append(
                f"fields {', '.join(map(repr, sorted(olds)))} would all land on {new!r} of "
                f"{v_new}: map all but one elsewhere"
            )
        for old in olds:
            if old_fields[old].pii and not new_fields[new].pii:
                how = f"renamed to {new!r}" if old != new else "kept by name"
                problems.append(
                    f"field {old!r} is customer data in {v_old} and would be {how}, which is "
                    f"not pii in {v_new}: refused (map it to a pii field, or mark {new!r} pii)"
                )
    return problems


def carried_fields(
    fields: Mapping[str, object], target: CompiledSpec, field_map: Mapping[str, str]
) -> dict[str, object]:
    """The case's values as the target names them; those the target has no field for drop."""
    declared = target.definition.fields
    renamed = {field_map.get(name, name): value for name, value in fields.items()}
    return {name: value for name, value in renamed.items() if name in declared}


def upgrade_problem(
    case_id: str,
    stage: str,
    fields: Mapping[str, object],
    closed: bool,
    source: CompiledSpec,
    target: CompiledSpec,
    stage_map: Mapping[str, str],
    field_map: Mapping[str, str] | None = None,
) -> Refusal | None:
    """Why this case cannot move from ``source`` to ``target``, or None. Changes nothing."""

    def refuse(kind: RefusalKind, reason: str) -> Refusal:
        message = f"upgrading case {case_id} {_versions(source, target)}: {reason}"
        return Refusal(kind=kind, message=message, event=UPGRADED_EVENT, stage=stage)

    if closed:
        return refuse(RefusalKind.CONFLICT, "the case is closed")
    if target.process != source.process:
        return refuse(
            RefusalKind.INVALID, f"the target is a {target.process}, the case a {source.process}"
        )
    if target.content_hash == source.content_hash:
        return refuse(RefusalKind.CONFLICT, "the case is already on it")
    mapped = stage_map.get(stage, stage)
    stages = target.definition.stages
    if mapped not in stages:
        return refuse(
            RefusalKind.CONFLICT,
            f"stage {stage!r} is not in v{target.version} "
            f"(map it: --map {stage}=<one of {', '.join(stages)}>)",
        )
    if stages[mapped].final:
        return refuse(RefusalKind.INVALID, f"stage {mapped!r} ends the case; an upgrade never does")
    field_map = field_map or {}
    if mapping := field_map_problems(source, target, field_map):
        return refuse(RefusalKind.INVALID, "; ".join(mapping))
    declared = target.definition.fields
    carried = carried_fields(fields, target, field_map)
    problems = [f"{name}: {problem}" for name, problem in data_problems(declared, carried)]
    if problems:
        return refuse(
            RefusalKind.CONFLICT,
            f"its values do not fit v{target.version}: " + "; ".join(problems),
        )
    return None


def upgrade_case(
    state: CaseState,
    source: CompiledSpec,
    target: CompiledSpec,
    request: UpgradeInput,
    at: datetime,
) -> tuple[CaseState, Step]:
    """The case as it is on ``target`` and the step that records the move (checked first)."""
    stage = request.stage_map.get(state.stage, state.stage)
    declared = target.definition.fields
    notes = [
        f"{_versions(source, target)} ({source.content_hash[:12]} → {target.content_hash[:12]})"
    ]
    if stage != state.stage:
        notes.append(f"stage {state.stage} → {stage}")
    field_map = request.field_map
    fields = carried_fields(state.fields, target, field_map)
    notes += [f"field {old} → {new}" for old, new in field_map.items() if old in state.fields]
    notes += [
        f"field {name}: not in v{target.version}, dropped (its values stay in this timeline)"
        for name in state.fields
        if field_map.get(name, name) not in declared
    ]
    deadlines = target.definition.deadlines
    old_board = ClockBoard(
        source.definition, source.calendars, state.clocks, ZoneInfo(source.time_zone)
    )
    for name in state.clocks:
        if name not in deadlines:
            stopped = old_board.stop(name, at)
            notes.append(f"clock {name}: not in v{target.version}, stopped ({stopped or 'idle'})")
    clocks = {name: clock.model_copy(deep=True) for name, clock in state.clocks.items()
              if name in deadlines}  # fmt: skip
    added = {name: ClockState(name=name) for name in deadlines if name not in clocks}
    if added:
        # Only the new clocks react to "opened" and "in this stage": the carried ones have
        # already lived through those moments under the old version.
        only_new = target.definition.model_copy(
            update={"deadlines": {name: deadlines[name] for name in added}}
        )
        board = ClockBoard(only_new, target.calendars, added, ZoneInfo(target.time_zone))
        started = board.moment("event", CASE_OPENED_TRIGGER, at, fields)
        started += board.moment("enter", stage, at, fields)
        started += board.pause_in(
            [n for n in target.definition.stages[stage].pauses if n in added], at
        )
        notes += [f"clock {name}: new in v{target.version}" for name in added]
        notes += started
        clocks.update(added)
    moved = state.model_copy(
        update={
            "version": target.version,
            "content_hash": target.content_hash,
            "stage": stage,
            "fields": fields,
            "clocks": clocks,
            # A mapped stage is the same step of the work, renamed: its timeout keeps counting.
        },
        deep=True,
    )
    board = ClockBoard(
        target.definition, target.calendars, moved.clocks, ZoneInfo(target.time_zone)
    )
    notes += board.retarget(fields)
    step = Step(
        seq=state.next_seq, at=at, event=UPGRADED_EVENT, from_stage=state.stage, to_stage=stage,
        actor=request.actor, notes=notes,
    )  # fmt: skip
    moved.steps.append(step)
    return moved, step
