"""Moving a running case to a newer version of its definition: the check and the step.

Pure, like the engine: the workflow applies the step (a Temporal update) and records it like
any other. The case's stage maps by name, or through the caller's ``stage_map`` for renamed
stages; fields and deadline clocks carry over by name. A clock the target adds starts if its
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
from .state import CaseState, Step

__all__ = ["UPGRADED_EVENT", "UpgradeInput", "upgrade_case", "upgrade_problem"]


class UpgradeInput(BaseModel):
    """Move a case to the published definition ``to_definition`` (a content hash)."""

    to_definition: str
    stage_map: dict[str, str] = Field(default_factory=dict)
    """Old stage -> stage of the target, for stages the target renamed or removed."""
    actor: str = "system"


def _versions(source: CompiledSpec, target: CompiledSpec) -> str:
    return f"v{source.version} → v{target.version}"


def upgrade_problem(
    case_id: str,
    stage: str,
    fields: Mapping[str, object],
    closed: bool,
    source: CompiledSpec,
    target: CompiledSpec,
    stage_map: Mapping[str, str],
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
    declared = target.definition.fields
    carried = {name: value for name, value in fields.items() if name in declared}
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
    fields = {name: value for name, value in state.fields.items() if name in declared}
    notes += [
        f"field {name}: not in v{target.version}, dropped (its values stay in this timeline)"
        for name in state.fields
        if name not in declared
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
