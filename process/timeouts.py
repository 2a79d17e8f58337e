"""Stage timeouts: when a stage is left by itself, in calendar time or in working days.

``timeout: {after: 7d, to: closed}`` counts every hour from entering the stage; ``after: 3wd``
counts working days on the timeout's ``calendar`` (or the process's), as a business clock does:
the close of business of the third working day after the day the stage was entered (``h``/``m``
beside ``wd`` are working time). Like a clock it is never silent: past the dates the calendar
covers it still gets a due time, counted with the weekly hours alone and marked provisional.
Pure: the engine passes the time the stage was entered and the case's calendars.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from pydantic import BaseModel

from .calendars import BusinessCalendar, CalendarCoverageError, CalendarSpec
from .clocks import stamp
from .durations import parse_amount
from .measures import BusinessMeasure
from .problems import unknown_name
from .spec import ProcessDefinition, Timeout

Path = tuple[str | int, ...]


class TimeoutState(BaseModel):
    """The current stage's timeout, for people and the API."""

    stage: str
    after: str
    """As written: ``7d`` or ``3wd``."""
    to: str
    calendar: str | None = None
    """The calendar a timeout in working days counts on; None in calendar time."""
    due_at: datetime
    provisional: str | None = None
    """Why ``due_at`` is provisional (it runs past the calendar's dates), or None."""

    def due_text(self, zone: tzinfo) -> str:
        """``2027-01-05 18:00 CST``, and why it is provisional when it is."""
        due = stamp(self.due_at, zone)
        if self.provisional is not None:
            due += f" PROVISIONAL ({self.provisional})"
        return due

    def text(self, zone: tzinfo) -> str:
        """``stage review timeout after 3wd on cn-workdays → closed: due 2027-01-05 18:00 CST``."""
        on = f" on {self.calendar}" if self.calendar else ""
        due = self.due_text(zone)
        return f"stage {self.stage} timeout after {self.after}{on} → {self.to}: due {due}"


def in_working_days(timeout: Timeout) -> bool:
    return bool(parse_amount(timeout.after).working_days)


def timeout_calendar(definition: ProcessDefinition, timeout: Timeout) -> str | None:
    """The calendar a timeout counts on: None unless it is written in working days."""
    if not in_working_days(timeout):
        return None
    return timeout.calendar or definition.calendar


def timeout_calendars(definition: ProcessDefinition) -> set[str]:
    """The calendars the definition's timeouts in working days count on."""
    return {
        name
        for stage in definition.stages.values()
        if stage.timeout is not None
        and (name := timeout_calendar(definition, stage.timeout)) is not None
    }


def timeout_state(
    definition: ProcessDefinition,
    stage: str,
    entered_at: datetime,
    calendars: Mapping[str, CalendarSpec],
) -> TimeoutState | None:
    """The timeout of ``stage`` entered at ``entered_at``: when it fires, and how sure that is."""
    timeout = definition.stages[stage].timeout
    if timeout is None:
        return None
    amount = parse_amount(timeout.after)
    name = timeout_calendar(definition, timeout)
    state = TimeoutState(
        stage=stage, after=timeout.after, to=timeout.to, calendar=name,
        due_at=entered_at + amount.span,
    )  # fmt: skip
    if name is None:
        return state
    calendar = BusinessCalendar(calendars[name], provisional=True)
    try:
        due = BusinessMeasure(calendar).due(entered_at, amount, timedelta())
    except CalendarCoverageError as error:
        # A calendar without weekly hours cannot count past its end: calendar days, said so.
        state.due_at = entered_at + timedelta(days=amount.working_days) + amount.span
        state.provisional = f"{error}; counted as calendar days"
        return state
    state.due_at = due
    state.provisional = calendar.guessed(entered_at, due)
    return state


def check_timeouts(
    definition: ProcessDefinition, calendars: Mapping[str, CalendarSpec]
) -> list[tuple[Path, str]]:
    """Every stage timeout's problems, with their places."""
    return [
        problem
        for name, stage in definition.stages.items()
        if stage.timeout is not None
        for problem in _check_timeout(
            definition, stage.timeout, calendars, ("stages", name, "timeout")
        )
    ]


def _check_timeout(
    definition: ProcessDefinition,
    timeout: Timeout,
    calendars: Mapping[str, CalendarSpec],
    path: Path,
) -> list[tuple[Path, str]]:
    """A timeout in working days needs a known calendar; calendar days do not mix with them."""
    amount = parse_amount(timeout.after)
    where: Path = (*path, "after")
    if amount.months:
        return [(where, f"{timeout.after!r}: months (mo) count only on a legal clock")]
    if not amount.working_days:
        if timeout.calendar is not None:
            message = "'calendar' is for a timeout in working days: write 'after' in wd (3wd)"
            return [((*path, "calendar"), message)]
        return []
    found: list[tuple[Path, str]] = []
    if amount.units & {"d", "w"}:
        message = (
            f"{timeout.after!r}: beside working days (wd) write working time in h or m "
            "('d' would be ambiguous)"
        )
        found.append((where, message))
    name = timeout.calendar or definition.calendar
    if name is None:
        message = (
            f"{timeout.after!r}: working days need a calendar: set 'calendar' on the timeout "
            "or for the process"
        )
        found.append((where, message))
    elif name not in calendars:
        at: Path = (*path, "calendar") if timeout.calendar else ("calendar",)
        found.append((at, unknown_name("calendar", name, calendars)))
    return found
