"""The case engine: what one event or one alarm does to a case, as pure computation.

``transitions`` decides which events are legal and where they lead; this module adds the rest of
kesu's rules (roles, inputs, guards, entry actions, clocks, timeouts, breaches) and turns each
change into a ``Step`` plus the messages it causes. No I/O and no clock of its own: the workflow
passes ``workflow.now()`` and persists the outcomes through activities.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from transitions import Machine

from activities.inputs import OutboxMessage

from . import clocks
from .actions import ActionRunner
from .admission import event_problem
from .compiler import TIMEOUT_EVENT, CompiledSpec, breach_event
from .expressions import Expression, parse
from .fields import initial_fields
from .spec import CASE_OPENED, Stage, parse_duration
from .state import (
    ASSIGNEE_FIELD,
    BREACHED_EVENT_PREFIX,
    OPENED_EVENT,
    REASSIGNED_EVENT,
    WARNING_EVENT_PREFIX,
    CaseState,
    EventInput,
    Outcome,
    ReassignInput,
    Step,
)


class IllegalEvent(ValueError):
    """An event this case cannot take now; the message names the event and the stage."""


class _Position:
    """The model object ``transitions`` moves from stage to stage (it adds both attributes)."""

    state: str
    trigger: Callable[..., bool]


class CaseEngine:
    def __init__(self, spec: CompiledSpec, state: CaseState) -> None:
        self.spec = spec
        self.definition = spec.definition
        self.state = state
        self._position = _Position()
        self._machine = Machine(
            model=self._position, **{**spec.machine.as_machine_kwargs(), "initial": state.stage}
        )
        self._guards: dict[tuple[str, str], Expression] = {
            (stage_name, event): parse(transition.when)
            for stage_name, stage in self.definition.stages.items()
            for event, transition in stage.on.items()
            if transition.when is not None
        }
        self._actions = ActionRunner(self.definition)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls, spec: CompiledSpec, case_id: str, given: Mapping[str, Any], actor: str, at: datetime
    ) -> tuple[CaseEngine, Outcome]:
        definition = spec.definition
        initial = definition.initial_stage
        state = CaseState(
            case_id=case_id,
            process=spec.process,
            version=spec.version,
            content_hash=spec.content_hash,
            stage=initial,
            fields=initial_fields(definition.fields, given),
            opened_at=at,
            stage_entered_at=at,
            clocks={name: clocks.ClockState(name=name) for name in definition.deadlines},
        )
        engine = cls(spec, state)
        notes: list[str] = []
        engine._clock_event(CASE_OPENED, at, notes)
        messages = engine._enter(initial, at, notes)
        step = Step(
            seq=0, at=at, event=OPENED_EVENT, from_stage=None, to_stage=initial, actor=actor,
            data=dict(given), notes=notes,
        )  # fmt: skip
        return engine, engine._record(step, messages)

    # -- events from people and systems --------------------------------------------------------

    def allowed_events(self) -> list[str]:
        """The designer's events legal in the current stage (kesu's own moves left out)."""
        if self.state.closed_at is not None:
            return []
        return list(self.definition.stages[self.state.stage].on)

    def check_event(self, event: EventInput) -> str | None:
        """Why ``event`` cannot be applied now, or None. Changes nothing."""
        legal = self._machine.get_triggers(self.state.stage)
        return event_problem(self.definition, self.state, event, legal, self._guards)

    def apply_event(self, event: EventInput, at: datetime) -> Outcome:
        problem = self.check_event(event)
        if problem is not None:
            raise IllegalEvent(problem)
        transition = self.definition.stages[self.state.stage].on[event.event]
        role = next((role for role in event.roles if role in transition.roles), None)
        if role is None and event.roles:
            role = event.roles[0]
        return self._move(event.event, at, actor=event.actor, role=role, data=event.data, before=[])

    # -- reassignment: an employee leaves, the company keeps the case --------------------------

    def reassign_problem(self, request: ReassignInput) -> str | None:
        where = f"reassigning case {self.state.case_id}"
        if self.state.closed_at is not None:
            return f"{where}: the case is closed"
        if ASSIGNEE_FIELD not in self.definition.fields:
            return f"{where}: process {self.definition.process!r} has no {ASSIGNEE_FIELD!r} field"
        current = self.state.fields.get(ASSIGNEE_FIELD)
        if current != request.from_assignee:
            return f"{where}: it is assigned to {current!r}, not {request.from_assignee!r}"
        if not request.to_assignee.strip():
            return f"{where}: the new assignee is blank"
        return None

    def reassign(self, request: ReassignInput, at: datetime) -> Outcome:
        problem = self.reassign_problem(request)
        if problem is not None:
            raise IllegalEvent(problem)
        self.state.fields[ASSIGNEE_FIELD] = request.to_assignee
        notes = [f"{ASSIGNEE_FIELD}: {request.from_assignee} → {request.to_assignee}"]
        if request.reason:
            notes.append(f"reason: {request.reason}")
        step = Step(
            seq=self.state.next_seq, at=at, event=REASSIGNED_EVENT,
            from_stage=self.state.stage, to_stage=self.state.stage, actor=request.actor,
            data={ASSIGNEE_FIELD: request.to_assignee}, notes=notes,
        )  # fmt: skip
        return self._record(step, [])

    # -- alarms: stage timeouts, warnings, breaches ----------------------------------------------

    def next_alarm(self) -> datetime | None:
        if self.state.closed_at is not None:
            return None
        candidates = [
            when
            for name, clock in self.state.clocks.items()
            if (when := clocks.next_alarm(clock, self.definition.deadlines[name])) is not None
        ]
        timeout = self._stage.timeout
        if timeout is not None:
            candidates.append(self.state.stage_entered_at + parse_duration(timeout.after))
        return min(candidates) if candidates else None

    def fire_due(self, now: datetime) -> list[Outcome]:
        """Every alarm due at or before ``now``, in time order, each as its own step."""
        outcomes: list[Outcome] = []
        while (when := self.next_alarm()) is not None and when <= now:
            outcomes.append(self._fire_one(now))
        return outcomes

    def _fire_one(self, now: datetime) -> Outcome:
        timeout = self._stage.timeout
        if (
            timeout is not None
            and self.state.stage_entered_at + parse_duration(timeout.after) <= now
        ):
            notes = [f"no event within {timeout.after} in {self.state.stage}"]
            messages = self._actions.run(timeout.actions, self.state, notes)
            return self._move(
                TIMEOUT_EVENT, now, actor="system", role=None, data={}, before=messages,
                notes=notes,
            )  # fmt: skip
        for name, clock in self.state.clocks.items():
            deadline = self.definition.deadlines[name]
            for index, when in clocks.warning_times(clock, deadline):
                if when <= now:
                    clock.warnings_sent.append(index)
                    notes = [f"{name} due {clock.due_at:%Y-%m-%d %H:%M} ({deadline.warn[index]})"]
                    messages = self._actions.run(deadline.on_warn, self.state, notes)
                    return self._stay(f"{WARNING_EVENT_PREFIX}{name}", now, notes, messages)
            if clock.due_at is not None and clock.breached_at is None and clock.due_at <= now:
                return self._breach(name, now)
        raise AssertionError("fire_one called with nothing due")  # pragma: no cover

    def _breach(self, name: str, now: datetime) -> Outcome:
        clock = self.state.clocks[name]
        deadline = self.definition.deadlines[name]
        clock.breached_at = now
        notes = [f"{name} breached (was due {clock.due_at:%Y-%m-%d %H:%M})"]
        effects = [action for action in deadline.on_breach if action.to is None]
        messages = self._actions.run(effects, self.state, notes)
        event = f"{BREACHED_EVENT_PREFIX}{name}"
        move = breach_event(name)
        if any(action.to for action in deadline.on_breach) and move in self._machine.get_triggers(
            self.state.stage
        ):
            return self._move(
                move, now, actor="system", role=None, data={}, before=messages, notes=notes,
                recorded_as=event,
            )  # fmt: skip
        return self._stay(event, now, notes, messages)

    # -- the mechanics of a step -----------------------------------------------------------------

    @property
    def _stage(self) -> Stage:
        return self.definition.stages[self.state.stage]

    def _move(
        self,
        trigger: str,
        at: datetime,
        *,
        actor: str,
        role: str | None,
        data: Mapping[str, Any],
        before: list[OutboxMessage],
        notes: list[str] | None = None,
        recorded_as: str | None = None,
    ) -> Outcome:
        notes = [] if notes is None else notes
        source = self.state.stage
        self._position.trigger(trigger)
        target = self._position.state
        self.state.fields.update(data)
        if target == source:
            # A transition to the same stage records work done in it (a plan submitted):
            # the stage is not left and entered again, so no entry actions and no timer reset.
            self._clock_event(trigger, at, notes)
            self._retarget(notes)
            messages = before
        else:
            self._clock_leave(source, target, at, notes)
            self._clock_event(trigger, at, notes)
            messages = [*before, *self._enter(target, at, notes)]
        step = Step(
            seq=self.state.next_seq, at=at, event=recorded_as or trigger, from_stage=source,
            to_stage=target, actor=actor, role=role, data=dict(data), notes=notes,
        )  # fmt: skip
        return self._record(step, messages)

    def _stay(
        self, event: str, at: datetime, notes: list[str], messages: list[OutboxMessage]
    ) -> Outcome:
        self._retarget(notes)
        stage = self.state.stage
        step = Step(
            seq=self.state.next_seq, at=at, event=event, from_stage=stage, to_stage=stage,
            actor="system", notes=notes,
        )  # fmt: skip
        return self._record(step, messages)

    def _enter(self, stage_name: str, at: datetime, notes: list[str]) -> list[OutboxMessage]:
        self.state.stage, self.state.stage_entered_at = stage_name, at
        stage = self.definition.stages[stage_name]
        for name, deadline in self.definition.deadlines.items():
            if any(trigger.enter == stage_name for trigger in deadline.start):
                self._note(clocks.start(self._clock(name), at, self._target(name)), notes)
            if any(trigger.enter == stage_name for trigger in deadline.stop):
                self._note(clocks.stop(self._clock(name), at), notes)
        for name in stage.pauses:
            self._note(clocks.pause(self._clock(name), at), notes)
        messages = self._actions.run(stage.on_enter, self.state, notes)
        self._retarget(notes)
        if stage.final:
            self.state.closed_at = at
            for clock in self.state.clocks.values():
                self._note(clocks.stop(clock, at), notes)
        return messages

    def _clock_leave(self, stage_name: str, target: str, at: datetime, notes: list[str]) -> None:
        target_pauses = self.definition.stages[target].pauses
        for name in self.definition.stages[stage_name].pauses:
            if name not in target_pauses:
                self._note(clocks.resume(self._clock(name), at), notes)
        for name, deadline in self.definition.deadlines.items():
            if any(trigger.leave == stage_name for trigger in deadline.stop):
                self._note(clocks.stop(self._clock(name), at), notes)

    def _clock_event(self, event: str, at: datetime, notes: list[str]) -> None:
        for name, deadline in self.definition.deadlines.items():
            if any(trigger.event == event for trigger in deadline.start):
                self._note(clocks.start(self._clock(name), at, self._target(name)), notes)
            if any(trigger.event == event for trigger in deadline.stop):
                self._note(clocks.stop(self._clock(name), at), notes)

    def _retarget(self, notes: list[str]) -> None:
        for name in self.definition.deadlines:
            self._note(clocks.retarget(self._clock(name), self._target(name)), notes)

    def _clock(self, name: str) -> clocks.ClockState:
        return self.state.clocks[name]

    def _target(self, name: str) -> timedelta:
        return clocks.target_for(self.definition.deadlines[name], self.state.fields)

    @staticmethod
    def _note(line: str | None, notes: list[str]) -> None:
        if line is not None:
            notes.append(line)

    def _record(self, step: Step, messages: list[OutboxMessage]) -> Outcome:
        self.state.steps.append(step)
        return Outcome(step=step, messages=messages, final=self.state.closed_at is not None)

    @property
    def priority(self) -> str | None:
        field = self.definition.priority_field
        value = self.state.fields.get(field) if field else None
        return None if value is None else str(value)
