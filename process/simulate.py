"""Run a scenario on virtual time: the case engine the workflow runs, with a clock that jumps.

The workflow sleeps until the engine's next alarm (a warning, breach, escalation or stage
timeout), fires what is due, and applies events as they come. Here the same loop runs on a
virtual clock: before each step every alarm due in the wait fires at its own time, then the
step's event is applied. No Temporal, no database: a 15-day case takes milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .clocks import ClockState, format_duration, stamp
from .compiler import CompiledSpec
from .engine import CaseEngine, RecordedRefusal
from .refusals import IllegalEvent
from .scenario import (
    Expect,
    Place,
    Scenario,
    ScenarioStep,
    clock_matches,
    parse_moment,
    wait_until,
)
from .state import EventInput, Outcome


@dataclass(frozen=True)
class Failure:
    """An expectation that did not hold: where it is written, what was expected, what was."""

    place: Place
    step: int
    message: str


@dataclass
class Simulation:
    engine: CaseEngine
    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    now: datetime | None = None
    """Where the virtual clock stopped: the last step's time."""
    stopped: str | None = None
    """Why the run ended before the last step (an event refused that should have been taken)."""

    @property
    def ok(self) -> bool:
        return not self.failures and self.stopped is None

    @property
    def elapsed(self) -> str:
        opened = self.engine.state.opened_at
        return format_duration((self.now or opened) - opened)


def simulate(spec: CompiledSpec, scenario: Scenario, case_id: str) -> Simulation:
    """Run every step; a refused event that was not expected to be refused ends the run."""
    zone = ZoneInfo(spec.time_zone)
    start = parse_moment(scenario.start, zone)
    engine, opened = CaseEngine.open(spec, case_id, scenario.fields, scenario.actor, start)
    run = Simulation(engine, [opened])
    now = start
    for index, step in enumerate(scenario.steps):
        now = max(now, wait_until(step, now, zone))
        taken = _advance(engine, now)
        refusal = None
        if step.event is not None:
            try:
                taken.append(engine.apply_event(_event_of(step), now))
            except RecordedRefusal as error:  # refused, and recorded in the timeline (回避)
                taken.append(error.outcome)
                refusal = str(error)
            except IllegalEvent as error:
                refusal = str(error)
        run.outcomes, run.now = run.outcomes + taken, now
        where: Place = ("steps", index)
        if step.expect is not None:
            run.failures += _check(engine, step.expect, taken, refusal, index, where, zone)
        expected_refusal = step.expect is not None and step.expect.refused is not None
        if refusal is not None and not expected_refusal:
            run.stopped = f"step {index + 1} ({step.event} at {_at(now, zone)}): {refusal}"
            run.failures.append(Failure((*where, "event"), index, f"refused: {refusal}"))
            break
    return run


def _advance(engine: CaseEngine, until: datetime) -> list[Outcome]:
    """Fire each alarm due by ``until`` at its own time, as the workflow's timers would."""
    taken: list[Outcome] = []
    while (alarm := engine.next_alarm()) is not None and alarm <= until:
        taken += engine.fire_due(alarm)
    return taken


def _event_of(step: ScenarioStep) -> EventInput:
    assert step.event is not None
    return EventInput(event=step.event, actor=step.actor, roles=step.roles, data=step.data)


def _at(moment: datetime | None, zone: ZoneInfo) -> str:
    return stamp(moment, zone)


def _check(
    engine: CaseEngine,
    expect: Expect,
    taken: list[Outcome],
    refusal: str | None,
    index: int,
    where: Place,
    zone: ZoneInfo,
) -> list[Failure]:
    state = engine.state
    found: list[tuple[Place, str]] = []

    def differs(key: str | tuple[str | int, ...], wanted: Any, actual: Any) -> None:
        if wanted != actual:
            place = (key,) if isinstance(key, str) else key
            name = ".".join(str(part) for part in place)
            found.append((place, f"expected {name} {wanted!r}, got {actual!r}"))

    if expect.refused is not None:
        if refusal is None:
            found.append((("refused",), f"expected a refusal ({expect.refused!r}); it was taken"))
        elif expect.refused not in refusal:
            found.append((("refused",), f"expected a refusal with {expect.refused!r}: {refusal}"))
    if expect.stage is not None:
        differs("stage", expect.stage, state.stage)
    if expect.closed is not None:
        differs("closed", expect.closed, state.closed_at is not None)
    for name, value in expect.fields.items():
        differs(("fields", name), value, state.fields.get(name))
    for name, moment in expect.due.items():
        wanted = None if moment is None else parse_moment(moment, zone)
        actual = state.clocks[name].due_at
        if wanted != actual:
            message = f"expected due.{name} {_at(wanted, zone)}, got {_at(actual, zone)}"
            found.append((("due", name), message))
    for name, status in expect.clocks.items():
        clock = state.clocks[name]
        if not clock_matches(status, clock.status, clock.met):
            found.append((("clocks", name), f"expected clocks.{name} {status}, got {_said(clock)}"))
    if expect.breached is not None:
        breached = [name for name, clock in state.clocks.items() if clock.breached_at]
        differs("breached", sorted(expect.breached), sorted(breached))
    if expect.timeline is not None:
        differs("timeline", expect.timeline, [outcome.step.event for outcome in taken])
    if expect.messages is not None:
        wanted_messages = [f"{m.to}: {m.template}" for m in expect.messages]
        sent = [f"{m.recipient}: {m.template}" for o in taken for m in o.messages]
        differs("messages", wanted_messages, sent)
    return [Failure((*where, "expect", *place), index, text) for place, text in found]


def _said(clock: ClockState) -> str:
    if clock.met is None:
        return clock.status.value
    return f"{clock.status.value} ({'met' if clock.met else 'missed'})"
