"""Scenarios: a designer's timed story of one case, with what they expect at each step.

A scenario file (``definitions/tests/*.yaml``) names a process, the fields the case opens
with, and a list of steps. Each step waits (``at: +2h`` after the step before, or a date),
may send an event, and may check what the case looks like then. ``simulate.py`` runs it on
virtual time. This module only reads and checks scenarios, with the same file:line errors as
definitions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field

from .clocks import ClockStatus, stamp
from .durations import parse_duration
from .spec import Model, ProcessDefinition

DEFAULT_START = "2026-01-05 09:00"
"""A Monday morning: a fixed start makes the due times in ``expect`` reproducible."""
_MOMENT_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
ClockExpectation = Literal["waiting", "running", "paused", "stopped", "met", "missed"]


def parse_moment(value: str | datetime, zone: ZoneInfo) -> datetime:
    """``2026-01-05 09:00`` (in the process's zone), an ISO time with offset, or a datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    text = value.strip()
    for layout in _MOMENT_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=zone)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad time {value!r}: write e.g. 2026-01-05 09:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _moment_text(value: Any) -> Any:
    if isinstance(value, str):
        parse_moment(value, ZoneInfo("UTC"))
    return value


def _wait_text(value: Any) -> Any:
    if isinstance(value, str) and value.strip().startswith("+"):
        parse_duration(value.strip()[1:])
    elif isinstance(value, str):
        _moment_text(value)
    return value


Moment = Annotated[str | datetime, BeforeValidator(_moment_text)]
Wait = Annotated[str | datetime, BeforeValidator(_wait_text)]


class ExpectedMessage(Model):
    """A message the step caused: its recipient and template."""

    to: str
    """The recipient role, e.g. ``supervisor``."""
    template: str
    """The template name, e.g. ``deadline_breached``."""


class Expect(Model):
    """What the case looks like after the step (only what is written here is checked)."""

    stage: str | None = None
    """The stage the case is in."""
    closed: bool | None = None
    """Whether the case is closed (reached a final stage)."""
    fields: dict[str, Any] = Field(default_factory=dict)
    """Field values, e.g. ``{priority: high}``; ``null`` means no value."""
    due: dict[str, Moment | None] = Field(default_factory=dict)
    """Due time of a clock (``2026-01-06 09:00`` in the process's zone); ``null``: none."""
    clocks: dict[str, ClockExpectation] = Field(default_factory=dict)
    """A clock's state: waiting, running, paused, stopped, met (stopped in time), missed."""
    breached: list[str] | None = None
    """Exactly the clocks that have breached (and not been restarted) by now."""
    timeline: list[str] | None = None
    """Exactly the steps recorded since the step before, e.g. ``deadline.breached:plan``."""
    messages: list[ExpectedMessage] | None = None
    """Exactly the messages caused since the step before, in order."""
    refused: str | None = None
    """The event must be refused, with a reason containing this text."""


class ScenarioStep(Model):
    """One moment of the story: wait, then (optionally) send an event, then check."""

    at: Wait | None = None
    """``+2h``: that long after the step before; or a time (``2026-01-06 09:00``); default:
    at once. Warnings, breaches, escalations and timeouts due in the wait happen first."""
    event: str | None = None
    """The event to send; without one the step only waits and checks."""
    actor: str = "simulator"
    """Who sends the event."""
    roles: list[str] = Field(default_factory=list)
    """The roles the actor acts in."""
    data: dict[str, Any] = Field(default_factory=dict)
    """The event's inputs (field values)."""
    note: str | None = None
    """What this step is about, for people."""
    expect: Expect | None = None
    """What the case must look like after the step."""


class Scenario(Model):
    """A designer's test of a process: a case opened at ``start`` and a list of timed steps."""

    process: str
    """The process the case runs, e.g. ``complaint``."""
    title: str | None = None
    """What the scenario proves, for people."""
    start: Moment = DEFAULT_START
    """When the case opens, in the process's zone (default 2026-01-05 09:00, a Monday)."""
    actor: str = "simulator"
    """Who opens the case."""
    fields: dict[str, Any] = Field(default_factory=dict)
    """The fields the case opens with."""
    steps: list[ScenarioStep]
    """The steps, in time order."""


def wait_until(step: ScenarioStep, previous: datetime, zone: ZoneInfo) -> datetime:
    at = step.at
    if at is None:
        return previous
    if isinstance(at, str) and at.strip().startswith("+"):
        return previous + parse_duration(at.strip()[1:])
    return parse_moment(at, zone)


Place = tuple[str | int, ...]


def scenario_problems(
    scenario: Scenario, definition: ProcessDefinition, zone: ZoneInfo
) -> list[tuple[Place, str]]:
    """Names the scenario uses that the process lacks, and times that go backwards."""
    problems: list[tuple[Place, str]] = []
    events = list(dict.fromkeys(name for stage in definition.stages.values() for name in stage.on))
    problems += _unknown(("fields",), scenario.fields, definition.fields, "field")
    moment = parse_moment(scenario.start, zone)
    for index, step in enumerate(scenario.steps):
        where: Place = ("steps", index)
        after = wait_until(step, moment, zone)
        if after < moment:
            problems.append(((*where, "at"), f"goes back in time, before {stamp(moment, zone)}"))
        moment = max(after, moment)
        if step.event is not None:
            problems += _unknown(where, [step.event], events, "event", key="event")
        problems += _unknown((*where, "roles"), step.roles, definition.roles, "role", key=True)
        problems += _unknown((*where, "data"), step.data, definition.fields, "field")
        if step.expect is not None:
            problems += _expect_problems((*where, "expect"), step, definition)
    return problems


def _expect_problems(
    where: Place, step: ScenarioStep, definition: ProcessDefinition
) -> list[tuple[Place, str]]:
    expect = step.expect
    assert expect is not None
    problems: list[tuple[Place, str]] = []
    if expect.stage is not None:
        problems += _unknown(where, [expect.stage], definition.stages, "stage", key="stage")
    problems += _unknown((*where, "fields"), expect.fields, definition.fields, "field")
    clocks = definition.deadlines
    problems += _unknown((*where, "due"), expect.due, clocks, "deadline")
    problems += _unknown((*where, "clocks"), expect.clocks, clocks, "deadline")
    problems += _unknown((*where, "breached"), expect.breached or [], clocks, "deadline", True)
    if expect.refused is not None and step.event is None:
        problems.append(((*where, "refused"), "only an event can be refused: add 'event'"))
    return problems


def _unknown(
    where: Place, names: Iterable[str], known: Iterable[str], what: str, key: str | bool = False
) -> list[tuple[Place, str]]:
    """``key``: True for a list (the place is the index), a name for a single value."""
    found: list[tuple[Place, str]] = []
    choices = list(known)
    for index, name in enumerate(names):
        if name in choices:
            continue
        place: Place = (*where, key) if isinstance(key, str) else (*where, index if key else name)
        close = difflib.get_close_matches(name, choices, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(choices) or 'none'}"
        found.append((place, f"unknown {what} {name!r}; {hint}"))
    return found


def clock_matches(expected: ClockExpectation, status: ClockStatus, met: bool | None) -> bool:
    if expected in ("met", "missed"):
        return met is (expected == "met")
    return status.value == expected
