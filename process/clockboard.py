"""All of a case's deadline clocks, driven by what happens to the case.

The engine tells the board when a stage is left or entered and when an event is applied; the
board starts, pauses, resumes, restarts and stops the clocks the definition ties to those
moments, and says which alarm (warning, breach, escalation) comes next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

from . import clocks
from .calendars import BusinessCalendar, CalendarSpec
from .clocks import ClockState
from .expressions import Context, Expression, parse
from .legal import LegalMeasure
from .measures import BusinessMeasure, CalendarMeasure, Measure
from .spec import ClockTrigger, Deadline, ProcessDefinition

Moment = Literal["enter", "leave", "event"]


@dataclass(frozen=True)
class Alarm:
    when: datetime
    kind: Literal["warning", "breach", "escalation"]
    clock: str
    index: int = 0


Holds = Callable[[ClockTrigger], bool]
"""Whether a trigger's ``when`` holds at the moment (True for a trigger without one)."""


def _matches(triggers: list[ClockTrigger], moment: Moment, value: str, holds: Holds) -> bool:
    return _matching(triggers, moment, value, holds) is not None


def _matching(
    triggers: list[ClockTrigger], moment: Moment, value: str, holds: Holds
) -> ClockTrigger | None:
    return next(
        (trigger for trigger in triggers if getattr(trigger, moment) == value and holds(trigger)),
        None,
    )


class ClockBoard:
    def __init__(
        self,
        definition: ProcessDefinition,
        calendars: Mapping[str, CalendarSpec],
        state_clocks: dict[str, ClockState],
        zone: tzinfo,
        provisional: bool = True,
    ) -> None:
        """``provisional``: past a calendar's end, count weekly hours (a provisional due time)
        rather than give no due time; False only replays cases recorded before that."""
        self._definition = definition
        self._clocks = state_clocks
        self._zone = zone
        self._provisional = provisional
        self._measures: dict[str, Measure] = {}
        self._conditions: dict[str, Expression] = {}
        self.use_calendars(calendars)

    def _condition(self, source: str) -> Expression:
        """A trigger's ``when``, parsed once (the loader checked that it parses)."""
        if source not in self._conditions:
            self._conditions[source] = parse(source)
        return self._conditions[source]

    def use_calendars(self, calendars: Mapping[str, CalendarSpec]) -> None:
        definition = self._definition
        for name, deadline in definition.deadlines.items():
            if deadline.clock == "calendar":
                self._measures[name] = CalendarMeasure(self._zone)
                continue
            spec = calendars[deadline.calendar or definition.calendar or ""]
            calendar = BusinessCalendar(spec, provisional=self._provisional)
            if deadline.clock == "legal":
                self._measures[name] = LegalMeasure(calendar, deadline.ends)
            else:
                self._measures[name] = BusinessMeasure(calendar)

    def deadline(self, name: str) -> Deadline:
        return self._definition.deadlines[name]

    def clock(self, name: str) -> ClockState:
        return self._clocks[name]

    def _target(self, name: str, fields: Mapping[str, Any]) -> str:
        return clocks.target_for(self.deadline(name), dict(fields))

    def moment(
        self, moment: Moment, value: str, at: datetime, fields: Mapping[str, Any]
    ) -> list[str]:
        """A stage entered or left, or an event applied: every clock tied to it reacts."""
        notes: list[str | None] = []
        context = Context(now=at, zone=self._zone)

        def holds(trigger: ClockTrigger) -> bool:
            return trigger.when is None or self._condition(trigger.when).test(fields, context)

        for name, deadline in self._definition.deadlines.items():
            clock, measure = self._clocks[name], self._measures[name]
            if (trigger := _matching(deadline.start, moment, value, holds)) is not None:
                field = trigger.field
                counts_from = (field, fields.get(field)) if field is not None else None
                target = self._target(name, fields)
                started = clocks.start(clock, at, target, measure, counts_from)
                notes.append(started)
            else:
                started = None
            # A clock this very moment started has nothing to start afresh.
            again = None if started else _matching(deadline.restart, moment, value, holds)
            if again is not None:
                why = f"{value} {'event' if moment == 'event' else moment + 'ed'}"
                notes.append(clocks.restart(clock, at, self._target(name, fields), measure, why))
                if again.field is not None:  # counts from the date given anew
                    clock.counts_from, clock.moment_at = again.field, at
                    notes.append(clocks.recount(clock, fields.get(again.field), measure))
            if _matches(deadline.pause, moment, value, holds):
                notes.append(clocks.pause(clock, at))
            if _matches(deadline.resume, moment, value, holds):
                notes.append(clocks.resume(clock, at, measure))
            if _matches(deadline.stop, moment, value, holds):
                notes.append(clocks.stop(clock, at, measure))
        return [note for note in notes if note]

    def pause_in(self, stage_pauses: list[str], at: datetime) -> list[str]:
        return [note for name in stage_pauses if (note := clocks.pause(self._clocks[name], at))]

    def resume_leaving(self, left: list[str], entered: list[str], at: datetime) -> list[str]:
        """Clocks paused by the stage left run again, unless the next stage pauses them too."""
        return [
            note
            for name in left
            if name not in entered
            and (note := clocks.resume(self._clocks[name], at, self._measures[name]))
        ]

    def retarget(self, fields: Mapping[str, Any]) -> list[str]:
        """Fields changed: targets picked by a field, and clocks counting from one, move."""
        notes = []
        for name in self._definition.deadlines:
            clock = self._clocks[name]
            if clock.counts_from is not None:
                value = fields.get(clock.counts_from)
                if note := clocks.recount(clock, value, self._measures[name]):
                    notes.append(note)
        for name, deadline in self._definition.deadlines.items():
            why = "policy" if deadline.by is None else f"{deadline.by}={fields.get(deadline.by)}"
            target = self._target(name, fields)
            note = clocks.retarget(self._clocks[name], target, self._measures[name], why)
            if note:
                notes.append(note)
        return notes

    def stop(self, name: str, at: datetime) -> str | None:
        return clocks.stop(self._clocks[name], at, self._measures[name])

    def recalendar(self, calendars: Mapping[str, CalendarSpec], name: str, why: str) -> list[str]:
        """Count on new calendar data (provisionally past its end, as new cases do)."""
        self._provisional = True
        self.use_calendars(calendars)
        notes = []
        for clock_name, deadline in self._definition.deadlines.items():
            uses = deadline.calendar or self._definition.calendar
            if deadline.clock == "calendar" or uses != name:
                continue
            note = clocks.recalendar(self._clocks[clock_name], self._measures[clock_name], why)
            if note:
                notes.append(note)
        return notes

    def stop_all(self, at: datetime) -> list[str]:
        return [
            note
            for name, clock in self._clocks.items()
            if (note := clocks.stop(clock, at, self._measures[name]))
        ]

    def alarms(self) -> list[Alarm]:
        found: list[Alarm] = []
        for name, clock in self._clocks.items():
            deadline, measure = self.deadline(name), self._measures[name]
            for index, when in clocks.warning_times(clock, deadline, measure):
                found.append(Alarm(when, "warning", name, index))
            if clock.due_at is not None and clock.breached_at is None:
                found.append(Alarm(clock.due_at, "breach", name))
            for index, when in clocks.escalation_times(clock, deadline, measure):
                found.append(Alarm(when, "escalation", name, index))
        return sorted(found, key=lambda alarm: alarm.when)

    def next_alarm(self) -> Alarm | None:
        alarms = self.alarms()
        return alarms[0] if alarms else None

    def stamp(self, name: str, moment: datetime | None) -> str:
        return clocks.stamp(moment, self._measures[name].zone)

    def due_text(self, name: str) -> str:
        return clocks.due_text(self._clocks[name], self._measures[name].zone)

    def describe(self, name: str) -> str:
        """The measure and calendar a clock counts in, for people."""
        return self._measures[name].label
