"""Deadline clocks in calendar time: start, pause, resume, stop, retarget, and their alarms.

Pure and deterministic: every function takes the time it happens at (the workflow passes
``workflow.now()``), so clocks replay exactly. Each change returns a line for the timeline.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from .spec import Deadline, parse_duration

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class ClockStatus(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class ClockState(BaseModel):
    name: str
    status: ClockStatus = ClockStatus.WAITING
    target: timedelta | None = None
    started_at: datetime | None = None
    paused_at: datetime | None = None
    paused_for: timedelta = timedelta()
    """Time spent paused so far: it moves the due time later."""
    stopped_at: datetime | None = None
    due_at: datetime | None = None
    """When the clock breaches; None unless running (a paused clock has no due time)."""
    breached_at: datetime | None = None
    warnings_sent: list[int] = Field(default_factory=list)
    """Indices into the deadline's ``warn`` list that have fired."""

    @property
    def met(self) -> bool | None:
        """True/False once stopped (in time or not); None while it can still go either way."""
        if self.status is not ClockStatus.STOPPED or self.started_at is None:
            return None
        return self.breached_at is None


def target_for(deadline: Deadline, fields: dict[str, object]) -> timedelta:
    if isinstance(deadline.within, str):
        return parse_duration(deadline.within)
    # The loader guarantees every value of the 'by' field has a duration and the field a value.
    return parse_duration(deadline.within[str(fields.get(deadline.by or ""))])


def _stamp(moment: datetime | None) -> str:
    # Timeline notes are written inside the workflow, where only UTC is known for sure.
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def format_duration(span: timedelta) -> str:
    """``1d 2h 30m`` rather than ``1 day, 2:30:00``: how designers write durations."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0s"


def _due(clock: ClockState) -> datetime | None:
    if clock.status is not ClockStatus.RUNNING or clock.started_at is None or clock.target is None:
        return None
    return clock.started_at + clock.target + clock.paused_for


def start(clock: ClockState, at: datetime, target: timedelta) -> str | None:
    if clock.status is not ClockStatus.WAITING:
        return None  # restarting a clock is a later, explicit feature
    clock.status, clock.started_at, clock.target = ClockStatus.RUNNING, at, target
    clock.due_at = _due(clock)
    return f"{clock.name} started, due {_stamp(clock.due_at)}"


def pause(clock: ClockState, at: datetime) -> str | None:
    if clock.status is not ClockStatus.RUNNING:
        return None
    clock.status, clock.paused_at, clock.due_at = ClockStatus.PAUSED, at, None
    return f"{clock.name} paused"


def resume(clock: ClockState, at: datetime) -> str | None:
    if clock.status is not ClockStatus.PAUSED or clock.paused_at is None:
        return None
    clock.paused_for += at - clock.paused_at
    clock.status, clock.paused_at = ClockStatus.RUNNING, None
    clock.due_at = _due(clock)
    paused = format_duration(clock.paused_for)
    return f"{clock.name} resumed ({paused} paused in all), due {_stamp(clock.due_at)}"


def stop(clock: ClockState, at: datetime) -> str | None:
    if clock.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        return None
    if clock.paused_at is not None:
        clock.paused_for += at - clock.paused_at
    clock.status, clock.stopped_at, clock.paused_at, clock.due_at = (
        ClockStatus.STOPPED,
        at,
        None,
        None,
    )
    verdict = "in time" if clock.breached_at is None else "late"
    return f"{clock.name} stopped {verdict}"


def retarget(clock: ClockState, target: timedelta) -> str | None:
    """A field the target depends on changed: the due time moves, paused time is kept."""
    if clock.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED) or clock.target == target:
        return None
    before = clock.due_at
    clock.target = target
    clock.due_at = _due(clock)
    if clock.status is ClockStatus.PAUSED:
        return f"{clock.name} target now {format_duration(target)} (paused)"
    return f"{clock.name} due moved from {_stamp(before)} to {_stamp(clock.due_at)}"


def warning_times(clock: ClockState, deadline: Deadline) -> list[tuple[int, datetime]]:
    """(index, when) of the warnings still to come for a running clock."""
    if clock.due_at is None or clock.target is None or clock.breached_at is not None:
        return []
    times = []
    for index, warning in enumerate(deadline.warn):
        if index in clock.warnings_sent:
            continue
        share = _PERCENT.match(warning)
        before_due = (
            clock.target * (1 - float(share.group(1)) / 100) if share else parse_duration(warning)
        )
        times.append((index, clock.due_at - before_due))
    return times


def next_alarm(clock: ClockState, deadline: Deadline) -> datetime | None:
    if clock.due_at is None or clock.breached_at is not None:
        return None
    return min([clock.due_at, *(when for _, when in warning_times(clock, deadline))])
