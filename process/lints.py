"""Warnings: definitions that load and run, but probably do not do what the designer meant.

A warning never stops a definition (``starter.py check`` prints it and succeeds); it points at
a likely mistake that only a case would otherwise reveal, weeks later.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from .compiler import BREACH_EVENT_PREFIX, breach_event, compile_machine
from .events import CASE_OPENED_TRIGGER
from .spec import ClockTrigger, Deadline, ProcessDefinition

Path = tuple[str | int, ...]
Found = list[tuple[Path, str]]

_WAITING, _RUNNING, _STOPPED = "waiting", "running", "stopped"
_MAX_LISTED = 3


def definition_warnings(definition: ProcessDefinition) -> Found:
    found: Found = []
    moves = [(t.trigger, t.source, t.dest) for t in compile_machine(definition).transitions]
    for name, deadline in definition.deadlines.items():
        if deadline.restart:
            continue  # the designer has said when it runs again
        returns = _returns_after_stop(definition, name, deadline, moves)
        if returns:
            found.append((("deadlines", name), _message(name, returns)))
    return found


def _message(name: str, returns: list[tuple[str, str]]) -> str:
    listed = returns[:_MAX_LISTED]
    ways = " and ".join(f"'{event}' (to '{stage}')" for event, stage in listed)
    verb = "brings" if len(listed) == 1 else "bring"
    example = ", ".join(f"{{event: {event}}}" for event in sorted({e for e, _ in listed}))
    return (
        f"after deadline {name!r} has stopped, {ways} {verb} the case back to where it runs; "
        f"with no 'restart' it stays stopped there: add e.g. restart: [{example}]"
    )


def _react(triggers: list[ClockTrigger], moment: str, value: str) -> bool:
    return any(getattr(trigger, moment) == value for trigger in triggers)


@dataclass(frozen=True)
class _Clock:
    """What a move does to one clock: its status after it, and whether the case passed a
    stage that stops it (left the clock's ground through its exit, not just paused there)."""

    status: str
    gate: bool = False


def _moment(deadline: Deadline, clock: _Clock, moment: str, value: str) -> _Clock:
    """The clock after one moment, as ``ClockBoard.moment`` changes it (pauses aside)."""
    status, gate = clock.status, clock.gate
    if status == _WAITING and _react(deadline.start, moment, value):
        status = _RUNNING
    if _react(deadline.stop, moment, value):
        gate = gate or moment != "event"
        if status == _RUNNING:
            status = _STOPPED
    return _Clock(status, gate)


def _move(deadline: Deadline, clock: _Clock, stage: str, event: str, target: str) -> _Clock:
    """The engine's order of moments for one move (``CaseEngine._move``)."""
    if target == stage:
        return _moment(deadline, clock, "event", event)
    clock = _moment(deadline, clock, "leave", stage)
    clock = _moment(deadline, clock, "event", event)
    return _moment(deadline, clock, "enter", target)


def _moves_from(
    stage: str, clock: _Clock, name: str, moves: list[tuple[str, str, str]]
) -> Iterator[tuple[str, str]]:
    for trigger, source, dest in moves:
        own = breach_event(name)
        own_breach = trigger == own or trigger.startswith(f"{own}:")
        if source == stage and (clock.status == _RUNNING or not own_breach):
            yield trigger, dest


def _explore(
    definition: ProcessDefinition,
    name: str,
    moves: list[tuple[str, str, str]],
    ground: set[str],
) -> list[tuple[str, _Clock, str, str, _Clock]]:
    """Every (stage, clock, event, target, clock after) a case can take, breadth first."""
    deadline = definition.deadlines[name]
    initial = definition.initial_stage
    clock = _moment(deadline, _Clock(_WAITING), "event", CASE_OPENED_TRIGGER)
    clock = _moment(deadline, clock, "enter", initial)
    seen = {(initial, clock)}
    queue = deque(seen)
    steps: list[tuple[str, _Clock, str, str, _Clock]] = []
    while queue:
        stage, clock = queue.popleft()
        for event, target in _moves_from(stage, clock, name, moves):
            after = _move(deadline, clock, stage, event, target)
            steps.append((stage, clock, event, target, after))
            if target in ground and target != stage:
                after = _Clock(after.status)  # back in the ground: the exit is behind it
            if not definition.stages[target].final and (target, after) not in seen:
                seen.add((target, after))
                queue.append((target, after))
    return steps


def _returns_after_stop(
    definition: ProcessDefinition, name: str, deadline: Deadline, moves: list[tuple[str, str, str]]
) -> list[tuple[str, str]]:
    """(event, stage) of the moves that bring a case, after the clock stopped on leaving its
    ground (the stages it is stopped from), back into it; or that would start it again."""
    ground = {
        stage for stage, before, _, _, after in _explore(definition, name, moves, set())
        if before.status == _RUNNING and after.status == _STOPPED
    }  # fmt: skip
    returns: list[tuple[str, str]] = []
    for stage, before, event, target, _ in _explore(definition, name, moves, ground):
        if before.status != _STOPPED or event.startswith(BREACH_EVENT_PREFIX):
            continue
        back = before.gate and target in ground and stage not in ground
        starts = _move(deadline, _Clock(_WAITING), stage, event, target).status != _WAITING
        if (back or starts) and (event, target) not in returns:
            returns.append((event, target))
    return returns
