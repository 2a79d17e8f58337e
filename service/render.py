"""Text views of cases for people: a case with its clocks and timeline, and case listings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from workflows.case import CaseView
from workflows.clocks import ClockState, ClockStatus, format_duration
from workflows.compiler import CompiledSpec
from workflows.spec import ProcessDefinition

from .cases import CaseListing

DISPLAY_ZONE = ZoneInfo("Asia/Shanghai")
MASK = "***"


def _when(moment: datetime | None, zone: ZoneInfo = DISPLAY_ZONE) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _stage_title(definition: ProcessDefinition, stage: str | None) -> str:
    if stage is None:
        return "-"
    title = definition.stages[stage].title if stage in definition.stages else None
    return f"{stage} ({title})" if title else stage


def render_case(view: CaseView, spec: CompiledSpec, *, show_pii: bool = False) -> str:
    state, definition = view.state, spec.definition
    lines = [
        f"case {state.case_id} — {definition.title or definition.process}",
        f"  definition: {view.definition}",
        f"  stage:      {_stage_title(definition, state.stage)}"
        + ("  [closed]" if state.closed_at else ""),
        f"  opened:     {_when(state.opened_at)}",
    ]
    if state.closed_at:
        lines.append(f"  closed:     {_when(state.closed_at)}")
    if view.allowed_events:
        lines.append(f"  next:       {', '.join(view.allowed_events)}")
    lines.append("fields:")
    for name, value in state.fields.items():
        field = definition.fields.get(name)
        shown = MASK if field is not None and field.pii and not show_pii else value
        lines.append(f"  {name:<16} {shown}")
    if state.clocks:
        lines.append("deadlines:")
        lines.extend(
            f"  {_clock_line(clock, definition.deadlines[name].title)}"
            for name, clock in state.clocks.items()
        )
    lines.append("timeline:")
    for step in state.steps:
        who = step.actor + (f" ({step.role})" if step.role else "")
        move = (
            step.to_stage
            if step.from_stage in (None, step.to_stage)
            else f"{step.from_stage} → {step.to_stage}"
        )
        lines.append(f"  #{step.seq:<3} {_when(step.at)}  {step.event:<28} {move:<28} {who}")
        lines.extend(f"        · {note}" for note in step.notes)
    return "\n".join(lines)


def _clock_line(clock: ClockState, title: str | None) -> str:
    label = f"{clock.name:<12}"
    if clock.status is ClockStatus.WAITING:
        state = "not started"
    elif clock.status is ClockStatus.RUNNING:
        state = f"running, due {_when(clock.due_at)}"
    elif clock.status is ClockStatus.PAUSED:
        state = f"paused since {_when(clock.paused_at)}"
        if clock.paused_for:
            state += f" ({format_duration(clock.paused_for)} paused before)"
    else:
        state = "met" if clock.met else "missed"
        state += f", stopped {_when(clock.stopped_at)}"
    if clock.breached_at is not None:
        state += f", BREACHED {_when(clock.breached_at)}"
    if clock.target is not None:
        state += f"; target {format_duration(clock.target)}"
        if clock.paused_for and clock.status is not ClockStatus.PAUSED:
            state += f", {format_duration(clock.paused_for)} paused"
    return f"{label} {state}" + (f"  — {title}" if title else "")


def render_listing(listings: Iterable[CaseListing]) -> str:
    rows = [
        f"{'case':<36} {'process':<16} {'stage':<18} {'priority':<9} {'next deadline':<20} flags"
    ]
    for item in listings:
        flags = ("BREACHED " if item.breached else "") + ("" if item.running else "finished")
        rows.append(
            f"{item.case_id:<36} {item.process or '-':<16} {item.stage or '-':<18} "
            f"{item.priority or '-':<9} {_when(item.next_deadline):<20} {flags}".rstrip()
        )
    if len(rows) == 1:
        rows.append("(no cases)")
    return "\n".join(rows)
