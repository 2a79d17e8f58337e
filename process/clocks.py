"""Deadline clocks: start, pause, resume, stop, restart, retarget, and their alarms.

Pure and deterministic: every function takes the time it happens at (the workflow passes
``workflow.now()``) and the clock's measure (calendar or business time), so clocks replay
exactly. Each change returns a line for the timeline and keeps it in the clock's own
explanation, which ``starter.py show`` prints to say why a clock is due when it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from pydantic import BaseModel, Field

from .calendars import CalendarCoverageError
from .durations import parse_amount
from .measures import Measure
from .origins import empty_reason, origin_of
from .spec import Deadline

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class ClockStatus(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class ClockState(BaseModel):
    name: str
    status: ClockStatus = ClockStatus.WAITING
    target: str | None = None
    """The target as the definition writes it (``24h``, ``15wd``)."""
    budget: timedelta | None = None
    """The target as counted time on this clock: what a percentage warning is a share of."""
    started_at: datetime | None = None
    paused_at: datetime | None = None
    paused_for: timedelta = timedelta()
    """Paused time so far, in the clock's measure: it moves the due time later."""
    stopped_at: datetime | None = None
    due_at: datetime | None = None
    """When the clock breaches; None unless running (a paused clock has no due time)."""
    breached_at: datetime | None = None
    warnings_sent: list[int] = Field(default_factory=list)
    escalations_sent: list[int] = Field(default_factory=list)
    problem: str | None = None
    """Why no due time can be computed (a calendar that ends too soon, in cases opened before
    provisional due times existed); shown, never guessed."""
    provisional: str | None = None
    """Why the due time is provisional (it runs past a calendar's known dates), or None."""
    counts_from: str | None = None
    """The date field the clock counts from (``start: {field: received_at}``), or None."""
    moment_at: datetime | None = None
    """When a clock counting from a field started: its origin while the field is empty."""
    field_empty: bool = False
    """The field it counts from had no value: the due time is provisional until it is set."""
    explain: list[str] = Field(default_factory=list)

    @property
    def met(self) -> bool | None:
        """True/False once stopped (in time or not); None while it can still go either way."""
        if self.status is not ClockStatus.STOPPED or self.started_at is None:
            return None
        return self.breached_at is None


def target_for(deadline: Deadline, fields: dict[str, object]) -> str:
    if isinstance(deadline.within, str):
        return deadline.within
    # The loader guarantees every value of the 'by' field has a duration and the field a value.
    return deadline.within[str(fields.get(deadline.by or ""))]


def stamp(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """A time for timeline notes, in the zone of the process's calendar (UTC without one)."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


def format_duration(span: timedelta) -> str:
    """``1d 2h 30m`` rather than ``1 day, 2:30:00``: how designers write durations."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0s"


EXPLAIN_KEPT = 10
"""Lines a clock's ``explain`` keeps: its first and the latest. Every line is also a note of
its step's timeline entry; a long case (reopened a hundred times) keeps a clock of bounded
size, which every stored step snapshots."""


def _say(clock: ClockState, line: str) -> str:
    clock.explain.append(line)
    if len(clock.explain) > EXPLAIN_KEPT:
        del clock.explain[1 : len(clock.explain) - EXPLAIN_KEPT + 1]
    return line


def _recompute(clock: ClockState, measure: Measure) -> None:
    clock.due_at, clock.problem, clock.provisional = None, None, None
    if clock.status is not ClockStatus.RUNNING or clock.started_at is None or not clock.target:
        return
    try:
        clock.due_at = measure.due(clock.started_at, parse_amount(clock.target), clock.paused_for)
    except CalendarCoverageError as error:
        clock.problem = str(error)
    except (OverflowError, ValueError):
        # The loader bounds every target; a due time past the calendar's last year is still
        # shown as a problem rather than failing the workflow task on every retry.
        clock.problem = f"{clock.target} from {clock.started_at:%Y-%m-%d} is past year 9999"
    else:
        clock.provisional = measure.guessed(clock.started_at, clock.due_at)
    if clock.field_empty and clock.counts_from and clock.due_at is not None:
        empty = empty_reason(clock.counts_from, stamp(clock.moment_at, measure.zone))
        clock.provisional = f"{empty}; {clock.provisional}" if clock.provisional else empty


def due_text(clock: ClockState, zone: tzinfo) -> str:
    """``due 2027-01-12 18:00 CST`` and, when the calendar ends before it, why it is provisional."""
    if clock.problem is not None:
        return f"NO DUE TIME: {clock.problem}"
    if clock.provisional is not None:
        return f"due {stamp(clock.due_at, zone)} PROVISIONAL ({clock.provisional})"
    return f"due {stamp(clock.due_at, zone)}"


def _due_text(clock: ClockState, measure: Measure) -> str:
    return due_text(clock, measure.zone)


def start(
    clock: ClockState,
    at: datetime,
    target: str,
    measure: Measure,
    counts_from: tuple[str, object] | None = None,
) -> str | None:
    """``counts_from``: the date field the clock counts from, and its value now."""
    if clock.status is not ClockStatus.WAITING:
        return None  # started once; 'restart' starts again
    clock.status, clock.started_at, clock.target = ClockStatus.RUNNING, at, target
    origin = ""
    if counts_from is not None:
        field, value = counts_from
        clock.counts_from, clock.moment_at = field, at
        found = origin_of(value, measure.zone)
        clock.field_empty = found is None
        clock.started_at = found or at
        origin = f", counting from {field} ({'empty' if found is None else value})"
    _set_budget(clock, clock.started_at, target, measure)
    _recompute(clock, measure)
    due = _due_text(clock, measure)
    return _say(clock, f"{clock.name} started: {target} of {measure.label}{origin}, {due}")


def recount(clock: ClockState, value: object, measure: Measure) -> str | None:
    """The field a clock counts from changed (a letter's receipt date entered): it counts
    from the new value, or from its start moment again if the field was emptied."""
    field = clock.counts_from
    if field is None or clock.moment_at is None or clock.status is ClockStatus.WAITING:
        return None
    if clock.status is ClockStatus.STOPPED:
        return None
    found = origin_of(value, measure.zone)
    origin = found or clock.moment_at
    if origin == clock.started_at and clock.field_empty == (found is None):
        return None
    shown = value if found is not None else "empty"
    if clock.breached_at is not None:
        return _say(
            clock,
            f"{clock.name}: {field} is now {shown}; the breach at "
            f"{stamp(clock.breached_at, measure.zone)} stands",
        )
    before = stamp(clock.due_at, measure.zone)
    clock.started_at, clock.field_empty = origin, found is None
    if clock.target:
        _set_budget(clock, origin, clock.target, measure)
    _recompute(clock, measure)
    if clock.status is ClockStatus.PAUSED:
        return _say(clock, f"{clock.name} counts from {field} ({shown}), paused")
    after = _due_text(clock, measure).removeprefix("due ")
    return _say(clock, f"{clock.name} counts from {field} ({shown}): due {before} → {after}")


def _set_budget(clock: ClockState, at: datetime, target: str, measure: Measure) -> None:
    try:
        clock.budget = measure.budget(at, parse_amount(target))
    except (CalendarCoverageError, OverflowError, ValueError):
        clock.budget = None


def restart(clock: ClockState, at: datetime, target: str, measure: Measure, why: str) -> str:
    before = clock.due_at
    clock.status, clock.started_at, clock.target = ClockStatus.RUNNING, at, target
    clock.paused_at, clock.paused_for, clock.stopped_at = None, timedelta(), None
    clock.counts_from, clock.moment_at, clock.field_empty = None, None, False  # from now on
    clock.breached_at, clock.warnings_sent, clock.escalations_sent = None, [], []
    _set_budget(clock, at, target, measure)
    _recompute(clock, measure)
    due, was = _due_text(clock, measure), stamp(before, measure.zone)
    return _say(clock, f"{clock.name} restarted ({why}): {due} (was due {was})")


def pause(clock: ClockState, at: datetime) -> str | None:
    if clock.status is not ClockStatus.RUNNING:
        return None
    clock.status, clock.paused_at, clock.due_at = ClockStatus.PAUSED, at, None
    clock.provisional = None
    return _say(clock, f"{clock.name} paused")


def resume(clock: ClockState, at: datetime, measure: Measure) -> str | None:
    if clock.status is not ClockStatus.PAUSED or clock.paused_at is None:
        return None
    try:
        counted = measure.elapsed(clock.paused_at, at)
    except CalendarCoverageError:
        counted = at - clock.paused_at  # the due time will say what is wrong with the calendar
    clock.paused_for += counted
    clock.status, clock.paused_at = ClockStatus.RUNNING, None
    _recompute(clock, measure)
    return _say(
        clock,
        f"{clock.name} resumed after {format_duration(counted)} of {measure.label} paused "
        f"({format_duration(clock.paused_for)} in all), {_due_text(clock, measure)}",
    )


def stop(clock: ClockState, at: datetime, measure: Measure) -> str | None:
    if clock.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        return None
    if clock.paused_at is not None:
        resume(clock, at, measure)
    clock.status, clock.stopped_at, clock.due_at = ClockStatus.STOPPED, at, None
    clock.provisional = None
    verdict = "in time" if clock.breached_at is None else "late"
    return _say(clock, f"{clock.name} stopped {verdict}")


def retarget(clock: ClockState, target: str, measure: Measure, why: str) -> str | None:
    """A field the target depends on changed: the due time moves, paused time is kept."""
    active = clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED)
    if not active or clock.target == target or clock.started_at is None:
        return None
    before, old = clock.due_at, clock.target
    clock.target = target
    _set_budget(clock, clock.started_at, target, measure)
    _recompute(clock, measure)
    if clock.status is ClockStatus.PAUSED:
        return _say(clock, f"{clock.name} target {old} → {target} ({why}), paused")
    moved = f"due {stamp(before, measure.zone)} → {_due_text(clock, measure).removeprefix('due ')}"
    return _say(clock, f"{clock.name} target {old} → {target} ({why}): {moved}")


def recalendar(clock: ClockState, measure: Measure, why: str) -> str | None:
    """The calendar a clock counts on changed (a new year published): its due time moves."""
    if clock.status is not ClockStatus.RUNNING or clock.started_at is None or not clock.target:
        return None
    if clock.breached_at is not None:
        return None  # the breach happened; escalations count from it
    before = _due_text(clock, measure).removeprefix("due ")
    _set_budget(clock, clock.started_at, clock.target, measure)
    _recompute(clock, measure)
    after = _due_text(clock, measure).removeprefix("due ")
    if before == after:
        return None
    return _say(clock, f"{clock.name} due {before} → {after} ({why})")


def warning_times(
    clock: ClockState, deadline: Deadline, measure: Measure
) -> list[tuple[int, datetime]]:
    """(index, when) of the warnings still to come for a running clock."""
    if clock.due_at is None or clock.breached_at is not None:
        return []
    times = []
    for index, warning in enumerate(deadline.warn):
        if index in clock.warnings_sent:
            continue
        share = _PERCENT.match(warning)
        try:
            if share:
                if clock.budget is None:
                    continue
                before_due = clock.budget * (1 - float(share.group(1)) / 100)
                times.append((index, measure.subtract(clock.due_at, before_due)))
            else:  # a time before the due time, in working days too on a business clock
                times.append((index, measure.before(clock.due_at, parse_amount(warning))))
        except (CalendarCoverageError, OverflowError, ValueError):
            continue
    return times


def escalation_times(
    clock: ClockState, deadline: Deadline, measure: Measure
) -> list[tuple[int, datetime]]:
    """(index, when) of the escalation rungs still to come after a breach."""
    if clock.breached_at is None or clock.status is not ClockStatus.RUNNING:
        return []
    times = []
    for index, rung in enumerate(deadline.escalate):
        if index in clock.escalations_sent:
            continue
        try:
            times.append((index, measure.add(clock.breached_at, parse_amount(rung.after).span)))
        except (CalendarCoverageError, OverflowError, ValueError):
            continue
    return times


def next_alarm(clock: ClockState, deadline: Deadline, measure: Measure) -> datetime | None:
    candidates = [when for _, when in warning_times(clock, deadline, measure)]
    candidates += [when for _, when in escalation_times(clock, deadline, measure)]
    if clock.due_at is not None and clock.breached_at is None:
        candidates.append(clock.due_at)
    return min(candidates) if candidates else None
