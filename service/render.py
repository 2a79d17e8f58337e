"""Text views of cases for people: a case with its clocks and timeline, and case listings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from process.clocks import ClockState, ClockStatus, format_duration
from process.compiler import CompiledSpec
from process.links import duplicates_of, group_of, merged_into
from process.spec import Deadline, ProcessDefinition
from process.state import Step
from workflows.case import CaseView

from .cases import CaseListing
from .pii import mask_pii

DISPLAY_ZONE = ZoneInfo("Asia/Shanghai")


def _when(moment: datetime | None, zone: ZoneInfo = DISPLAY_ZONE) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _stage_title(definition: ProcessDefinition | None, stage: str | None) -> str:
    if stage is None:
        return "-"
    known = definition.stages if definition is not None else {}
    title = known[stage].title if stage in known else None
    return f"{stage} ({title})" if title else stage


def render_case(
    view: CaseView,
    spec: CompiledSpec | None,
    *,
    show_pii: bool = False,
    case_number: str | None = None,
) -> str:
    """``spec``: the case's own published version; None (not found) masks every value."""
    state = view.state
    definition = spec.definition if spec is not None else None
    zone = ZoneInfo(spec.time_zone) if spec is not None else DISPLAY_ZONE

    def when(moment: datetime | None) -> str:
        return _when(moment, zone)

    lines = [
        f"case {state.case_id} — {(definition.title if definition else None) or state.process}",
        *([f"  number:     {case_number}"] if case_number else []),
        f"  definition: {view.definition}"
        + ("" if spec is not None else "  [not in the registry: customer data masked]"),
        f"  stage:      {_stage_title(definition, state.stage)}"
        + ("  [closed]" if state.closed_at else ""),
        f"  opened:     {when(state.opened_at)}",
    ]
    if state.closed_at:
        lines.append(f"  closed:     {when(state.closed_at)}")
    lines += _link_lines(state.steps)
    if view.halted:
        lines.append(f"  HALTED:     {view.halted}")
    elif view.allowed_events:
        lines.append(f"  next:       {', '.join(view.allowed_events)}")
    if view.pending:
        lines.append(f"  pending:    step {', '.join(map(str, view.pending))} not stored yet")
    lines.append("fields:")
    for name, value in (state.fields if show_pii else mask_pii(state.fields, definition)).items():
        lines.append(f"  {name:<16} {value}")
    if state.clocks:
        lines.append("deadlines:")
        for name, clock in state.clocks.items():
            deadline = definition.deadlines.get(name) if definition else None
            if deadline is None:
                lines.append(f"  {name:<12} {clock.status.value}")
                continue
            lines.extend(
                _clock_lines(clock, deadline, definition.calendar if definition else None, zone)
            )
    if view.timeout is not None:
        lines += ["timeout:", f"  {view.timeout.text(zone)}"]
    lines.append("timeline:")
    if state.earlier_steps:
        lines.append(f"  ({state.earlier_steps} earlier steps: in the database)")
    for step in state.steps:
        who = step.actor + (f" ({step.role})" if step.role else "")
        move = (
            step.to_stage
            if step.from_stage in (None, step.to_stage)
            else f"{step.from_stage} → {step.to_stage}"
        )
        lines.append(f"  #{step.seq:<3} {when(step.at)}  {step.event:<28} {move:<28} {who}")
        lines.extend(f"        · {note}" for note in step.notes)
    return "\n".join(lines)


def _clock_lines(
    clock: ClockState, deadline: Deadline, calendar: str | None, zone: ZoneInfo
) -> list[str]:
    """A clock's state, then why it is due when it is: its measure and every change to it."""

    def when(moment: datetime | None) -> str:
        return _when(moment, zone)

    if clock.status is ClockStatus.WAITING:
        state = "not started"
    elif clock.status is ClockStatus.RUNNING:
        state = f"running, due {when(clock.due_at)}"
    elif clock.status is ClockStatus.PAUSED:
        state = f"paused since {when(clock.paused_at)}"
    else:
        state = ("met" if clock.met else "missed") + f", stopped {when(clock.stopped_at)}"
    if clock.breached_at is not None:
        state += f", BREACHED {when(clock.breached_at)}"
    if clock.problem is not None:
        state += f", NO DUE TIME: {clock.problem}"
    if clock.provisional is not None:
        state += f", PROVISIONAL: {clock.provisional}"
    kinds = {"calendar": "calendar time", "business": "working time", "legal": "a legal period"}
    measure = kinds[deadline.clock]
    if deadline.clock != "calendar":
        measure += f" on {deadline.calendar or calendar}"
    target = clock.target or target_for_display(deadline)
    lines = [f"  {clock.name:<12} {state}", f"      target {target} of {measure}"]
    if clock.counts_from is not None:
        lines[-1] += f", counted from {clock.counts_from} ({when(clock.started_at)})"
    if clock.paused_for >= timedelta(seconds=1):
        lines[-1] += f", {format_duration(clock.paused_for)} paused"
    if deadline.title:
        lines[-1] += f"  — {deadline.title}"
    lines.extend(f"      · {line}" for line in clock.explain)
    return lines


def target_for_display(deadline: Deadline) -> str:
    within = deadline.within
    if isinstance(within, str):
        return within
    return " / ".join(f"{value} {text}" for value, text in within.items()) + f" by {deadline.by}"


def render_listing(listings: Iterable[CaseListing], groups: Mapping[str, str] | None = None) -> str:
    """``groups``: case id -> its group complaint, shown among the flags."""
    rows = [
        f"{'case':<36} {'process':<16} {'stage':<18} {'priority':<9} {'next deadline':<20} flags"
    ]
    for item in listings:
        flags = "BREACHED " if item.breached else ""
        flags += f"group {groups[item.case_id]} " if groups and item.case_id in groups else ""
        flags += ("PROVISIONAL " if item.provisional else "") + ("" if item.running else "finished")
        rows.append(
            f"{item.case_id:<36} {item.process or '-':<16} {item.stage or '-':<18} "
            f"{item.priority or '-':<9} {_when(item.next_deadline):<20} {flags}".rstrip()
        )
    if len(rows) == 1:
        rows.append("(no cases)")
    return "\n".join(rows)


def _link_lines(steps: list[Step]) -> list[str]:
    """Merges and the group, as the case's own steps recorded them."""
    lines = []
    primary = merged_into(steps)
    if primary is not None:
        lines.append(f"  merged into: {primary}")
    duplicates = duplicates_of(steps)
    if duplicates:
        lines.append(f"  duplicates: {', '.join(duplicates)} (merged into this case)")
    group = group_of(steps)
    if group is not None:
        lines.append(f"  group:      {group[0]}" + (f" — plan: {group[1]}" if group[1] else ""))
    return lines
