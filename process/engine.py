"""The case engine: what one event or one alarm does to a case, as pure computation.

``transitions`` decides which events are legal and where they lead; this module adds the rest of
kesu's rules (roles, inputs, guards, entry actions, clocks, timeouts, breaches) and turns each
change into a ``Step`` plus the messages it causes. No I/O and no clock of its own: the workflow
passes ``workflow.now()`` and persists the outcomes through activities.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import clocks
from .access import acting_role
from .admission import event_problem
from .clockboard import Alarm, ClockBoard
from .compiler import CompiledSpec, breach_event
from .conflicts import ASSIGNMENT_REFUSED_EVENT, Verdict, assignment_conflict, verdict_refusal
from .events import (
    BREACHED_EVENT_PREFIX,
    CALENDAR_UPDATED_EVENT,
    CASE_OPENED_TRIGGER,
    ESCALATED_EVENT_PREFIX,
    OPENED_EVENT,
    REASSIGNED_EVENT,
    TIMEOUT_EVENT,
    WARNING_EVENT_PREFIX,
)
from .expressions import Context
from .fields import data_problems, initial_fields
from .links import (
    LinkInput,
    LinkKind,
    link_data,
    link_event,
    link_problem,
    recorded_link,
)
from .recalendar import CalendarUpdate, change_reason, update_problem
from .refusals import IllegalEvent, Refusal, RefusalKind
from .rules import rules_for
from .spec import Action, Stage
from .state import (
    ASSIGNEE_FIELD,
    CaseState,
    EventInput,
    OutboxMessage,
    Outcome,
    ReassignInput,
    Step,
)
from .timeouts import TimeoutState, timeout_state


class RecordedRefusal(IllegalEvent):
    """A refusal the case records in its timeline (a conflict of interest): ``outcome`` is the
    step to store before the caller hears of the refusal."""

    def __init__(self, refusal: Refusal, outcome: Outcome) -> None:
        super().__init__(refusal)
        self.outcome = outcome


class CaseEngine:
    def __init__(self, spec: CompiledSpec, state: CaseState, provisional: bool = True) -> None:
        self.spec = spec
        self.definition = spec.definition
        self.state = state
        self._rules = rules_for(spec)
        self._actions = self._rules.actions
        zone = self._zone = ZoneInfo(spec.time_zone)
        self._board = ClockBoard(self.definition, spec.calendars, state.clocks, zone, provisional)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        spec: CompiledSpec,
        case_id: str,
        given: Mapping[str, Any],
        actor: str,
        at: datetime,
        provisional: bool = True,
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
        engine = cls(spec, state, provisional)
        notes = engine._board.moment("event", CASE_OPENED_TRIGGER, at, state.fields)
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

    def check_event(self, event: EventInput, now: datetime | None = None) -> Refusal | None:
        """Why ``event`` cannot be applied at ``now``, or None. Changes nothing.

        ``now`` is what a guard reads as ``now`` (the workflow's time); without it, null."""
        legal = self._rules.legal(self.state.stage)
        context = self._context(now, event)
        problem = event_problem(
            self.definition, self.state, event, legal, self._rules.guards,
            declared_inputs=self.spec.declared_inputs, context=context,
            requirements=self._rules.requirements,
        )  # fmt: skip
        if problem is not None:
            return problem
        where = f"event {event.event!r} in stage {self.state.stage!r}"
        return self._conflict_refusal(self._event_conflict(event, context.role), where, event.event)

    def _event_conflict(self, event: EventInput, role: str | None) -> Verdict:
        conflicts = self.definition.conflicts
        field = conflicts.justification if conflicts is not None else None
        justification = event.data.get(field) if field is not None else None
        text = None if justification is None else str(justification)
        return assignment_conflict(conflicts, self.state.fields, event.data, role, text)

    def _conflict_refusal(self, verdict: Verdict, where: str, event: str) -> Refusal | None:
        return verdict_refusal(verdict, where, event, self.state.stage)

    def _refusal_recorded(
        self, refusal: Refusal, at: datetime, actor: str, role: str | None, data: dict[str, Any]
    ) -> RecordedRefusal:
        """The refused assignment as a step of its own: who tried, whom, and why not."""
        stage = self.state.stage
        step = Step(
            seq=self.state.next_seq, at=at, event=ASSIGNMENT_REFUSED_EVENT, from_stage=stage,
            to_stage=stage, actor=actor, role=role, data=data, notes=[refusal.message],
        )  # fmt: skip
        return RecordedRefusal(refusal, self._record(step, []))

    def _context(self, now: datetime | None, event: EventInput | None = None) -> Context:
        """What an expression reads besides the fields: the time, and who acts in an event."""
        if event is None:
            return Context(now=now, zone=self._zone)
        transition = self.definition.stages[self.state.stage].on.get(event.event)
        role = acting_role(transition.roles if transition else [], event.roles)
        return Context(
            now=now, zone=self._zone, actor=event.actor, role=role, roles=tuple(event.roles),
            event_data=event.data,
        )  # fmt: skip

    def apply_event(self, event: EventInput, at: datetime) -> Outcome:
        problem = self.check_event(event, at)
        context = self._context(at, event)
        role = context.role
        if problem is not None and problem.record:
            data = {"event": event.event, **self._watched(event.data)}
            raise self._refusal_recorded(problem, at, event.actor, role, data)
        if problem is not None:
            raise IllegalEvent(problem)
        transition = self.definition.stages[self.state.stage].on[event.event]
        overridden = self._event_conflict(event, role).overridden
        self.state.fields.update(event.data)
        notes: list[str] = [] if overridden is None else [overridden]
        before = self._actions.run(transition.actions, self.state, notes, context)
        return self._move(
            event.event, at, actor=event.actor, role=role, data=event.data, before=before,
            notes=notes,
        )  # fmt: skip

    # -- reassignment: an employee leaves, the company keeps the case --------------------------

    def reassign_problem(self, request: ReassignInput) -> Refusal | None:
        where = f"reassigning case {self.state.case_id}"

        def refuse(kind: RefusalKind, reason: str) -> Refusal:
            return Refusal(
                kind=kind, message=f"{where}: {reason}", event=REASSIGNED_EVENT,
                stage=self.state.stage,
            )  # fmt: skip

        if self.state.closed_at is not None:
            return refuse(RefusalKind.CONFLICT, "the case is closed")
        if ASSIGNEE_FIELD not in self.definition.fields:
            process = self.definition.process
            return refuse(
                RefusalKind.INVALID, f"process {process!r} has no {ASSIGNEE_FIELD!r} field"
            )
        current = self.state.fields.get(ASSIGNEE_FIELD)
        if current != request.from_assignee:
            wanted = request.from_assignee
            return refuse(RefusalKind.CONFLICT, f"it is assigned to {current!r}, not {wanted!r}")
        if not request.to_assignee.strip():
            return refuse(RefusalKind.INVALID, "the new assignee is blank")
        conflicts = self.definition.conflicts
        known = conflicts.assignee_fields() if conflicts is not None else []
        unknown = [name for name in request.data if name not in known]
        if unknown:
            accepted = ", ".join(known) or "none"
            return refuse(
                RefusalKind.INVALID, f"field {unknown[0]!r}: not asked (asked: {accepted})"
            )
        for name, problem in data_problems(self.definition.fields, request.data):
            return refuse(RefusalKind.INVALID, f"field {name!r}: {problem}")
        return self._conflict_refusal(self._reassign_conflict(request), where, REASSIGNED_EVENT)

    def _reassign_change(self, request: ReassignInput) -> dict[str, Any]:
        return {**request.data, ASSIGNEE_FIELD: request.to_assignee}

    def _reassign_role(self, request: ReassignInput) -> str | None:
        conflicts = self.definition.conflicts
        overriders = conflicts.override_roles if conflicts is not None else []
        return acting_role(overriders, request.roles) if request.roles else None

    def _reassign_conflict(self, request: ReassignInput) -> Verdict:
        change, role = self._reassign_change(request), self._reassign_role(request)
        conflicts = self.definition.conflicts
        return assignment_conflict(
            conflicts, self.state.fields, change, role, request.justification
        )

    def _watched(self, data: dict[str, Any]) -> dict[str, Any]:
        conflicts = self.definition.conflicts
        return {} if conflicts is None else conflicts.of(data)

    def reassign(self, request: ReassignInput, at: datetime) -> Outcome:
        problem = self.reassign_problem(request)
        role = self._reassign_role(request)
        change = self._reassign_change(request)
        if problem is not None and problem.record:
            raise self._refusal_recorded(problem, at, request.actor, role, change)
        if problem is not None:
            raise IllegalEvent(problem)
        overridden = self._reassign_conflict(request).overridden
        self.state.fields.update(change)
        notes = [f"{ASSIGNEE_FIELD}: {request.from_assignee} → {request.to_assignee}"]
        if request.reason:
            notes.append(f"reason: {request.reason}")
        if overridden is not None:
            notes.append(overridden)
        step = Step(
            seq=self.state.next_seq, at=at, event=REASSIGNED_EVENT,
            from_stage=self.state.stage, to_stage=self.state.stage, actor=request.actor,
            role=role, data=change, notes=notes,
        )  # fmt: skip
        return self._record(step, [])

    # -- links: a duplicate merged into a primary case, a case joining a group -----------------

    def link_problem(self, request: LinkInput) -> Refusal | None:
        return link_problem(self.definition.merging, self.spec.process, self.state, request)

    def link(self, request: LinkInput, at: datetime) -> Outcome:
        """Record the link as a step. A merged duplicate closes in the definition's merge
        stage with its clocks stopped and *no* messages: that stage's entry actions are not
        run (``checks`` refuses any), so the customer hears only from the primary case."""
        problem = self.link_problem(request)
        if problem is None and recorded_link(self.state.steps, request) is not None:
            problem = Refusal(kind=RefusalKind.CONFLICT, message="the link is recorded already")
        if problem is not None:
            raise IllegalEvent(problem)
        source = self.state.stage
        target, notes = source, [f"{link_event(request.kind)}: {request.other}"]
        if request.reason:
            notes.append(f"reason: {request.reason}")
        merging = self.definition.merging
        if request.kind is LinkKind.MERGED_INTO and merging is not None:
            target = merging.stage
            self.state.stage, self.state.stage_entered_at = target, at
            self.state.closed_at = at
            notes += self._board.stop_all(at)
        step = Step(
            seq=self.state.next_seq, at=at, event=link_event(request.kind), from_stage=source,
            to_stage=target, actor=request.actor, role=acting_role(
                merging.roles if merging else [], request.roles
            ), data=link_data(request), notes=notes,
        )  # fmt: skip
        return self._record(step, [])

    # -- new calendar data (next year's holidays) for a running case ---------------------------

    def calendar_problem(self, update: CalendarUpdate) -> Refusal | None:
        closed = self.state.closed_at is not None
        return update_problem(update, self.spec.calendars, self.state.case_id, closed)

    def update_calendar(self, update: CalendarUpdate, at: datetime) -> Outcome:
        refusal = self.calendar_problem(update)
        if refusal is not None:
            raise IllegalEvent(refusal)
        new = update.calendar
        why = change_reason(self.spec.calendars[new.calendar], new)
        calendars = {**self.spec.calendars, new.calendar: new}
        timeout_before = self.stage_timeout()
        self.spec = self.spec.model_copy(update={"calendars": calendars})
        notes = [why, *self._board.recalendar(calendars, new.calendar, why)]
        notes += self._timeout_moved(timeout_before, new.calendar, why)
        stage = self.state.stage
        step = Step(
            seq=self.state.next_seq, at=at, event=CALENDAR_UPDATED_EVENT, from_stage=stage,
            to_stage=stage, actor=update.actor, data={"calendar": new.calendar,
            "content_hash": update.content_hash}, notes=notes,
        )  # fmt: skip
        return self._record(step, [])

    # -- alarms: stage timeouts, warnings, breaches, escalations --------------------------------

    def stage_timeout(self) -> TimeoutState | None:
        """The current stage's timeout: when it fires, provisional past a calendar's end."""
        if self.state.closed_at is not None:
            return None
        state = self.state
        return timeout_state(
            self.definition, state.stage, state.stage_entered_at, self.spec.calendars
        )

    def _timeout_at(self) -> datetime | None:
        timeout = self.stage_timeout()
        return None if timeout is None else timeout.due_at

    def _timeout_moved(self, before: TimeoutState | None, calendar: str, why: str) -> list[str]:
        """The note of a timeout in working days that new calendar data moved."""
        after, zone = self.stage_timeout(), ZoneInfo(self.spec.time_zone)
        if before is None or after is None or after.calendar != calendar or before == after:
            return []
        moved = f"{before.due_text(zone)} → {after.due_text(zone)}"
        return [f"stage {after.stage} timeout after {after.after} due {moved} ({why})"]

    @property
    def provisional(self) -> bool:
        """A due time of the case is provisional: a clock's or the stage timeout's."""
        timeout = self.stage_timeout()
        return self.state.provisional or (timeout is not None and timeout.provisional is not None)

    def next_alarm(self) -> datetime | None:
        if self.state.closed_at is not None:
            return None
        alarm = self._board.next_alarm()
        candidates = [self._timeout_at(), alarm.when if alarm else None]
        present = [when for when in candidates if when is not None]
        return min(present) if present else None

    def next_alarm_summary(self) -> str | None:
        """Which deadline the next alarm is, for people: Temporal's Web UI names its timer so."""
        if self.next_alarm() is None:
            return None
        timeout, timeout_at = self._stage.timeout, self._timeout_at()
        alarm = self._board.next_alarm()
        if timeout is not None and (alarm is None or (timeout_at or alarm.when) <= alarm.when):
            return f"stage {self.state.stage}: timeout after {timeout.after}"
        if alarm is None:
            return None
        title = self._board.deadline(alarm.clock).title
        name = f"{alarm.clock} ({title})" if title else alarm.clock
        rung = f" {alarm.index + 1}" if alarm.kind != "breach" else ""
        return f"deadline {name}: {alarm.kind}{rung}"

    def fire_due(self, now: datetime) -> list[Outcome]:
        """Every alarm due at or before ``now``, in time order, each as its own step."""
        outcomes: list[Outcome] = []
        while (when := self.next_alarm()) is not None and when <= now:
            timeout_at, alarm = self._timeout_at(), self._board.next_alarm()
            if alarm is None or (timeout_at is not None and timeout_at <= alarm.when):
                outcomes.append(self._fire_timeout(now))
            else:
                outcomes.append(self._fire_alarm(alarm, now))
        return outcomes

    def _fire_timeout(self, now: datetime) -> Outcome:
        timeout, due = self._stage.timeout, self.stage_timeout()
        assert timeout is not None and due is not None
        notes = [f"no event within {timeout.after} in {self.state.stage}"]
        if due.provisional is not None:
            notes[0] += f" (due time provisional: {due.provisional})"
        messages = self._actions.run(timeout.actions, self.state, notes, self._context(now))
        return self._move(
            TIMEOUT_EVENT, now, actor="system", role=None, data={}, before=messages, notes=notes
        )

    def _fire_alarm(self, alarm: Alarm, now: datetime) -> Outcome:
        outcome = self._alarm_step(alarm, now)
        # Messages a deadline sends say when it is due, and whether that is provisional.
        clock = self._board.clock(alarm.clock)
        due = clock.breached_at or clock.due_at
        for message in outcome.messages:
            message.params["deadline"] = {
                "due_at": due.isoformat() if due else None,
                "provisional": clock.provisional,
            }
        return outcome

    def _alarm_step(self, alarm: Alarm, now: datetime) -> Outcome:
        name = alarm.clock
        clock, deadline = self._board.clock(name), self._board.deadline(name)
        if alarm.kind == "warning":
            clock.warnings_sent.append(alarm.index)
            notes = [f"{name} {self._board.due_text(name)} ({deadline.warn[alarm.index]})"]
            messages = self._actions.run(deadline.on_warn, self.state, notes, self._context(now))
            return self._stay(f"{WARNING_EVENT_PREFIX}{name}", now, notes, messages)
        if alarm.kind == "breach":
            # The breach happened at the due time, even if a worker outage delays the news:
            # escalation rungs count from then.
            clock.breached_at = clock.due_at
            notes = [f"{name} breached (was {self._board.due_text(name)})"]
            event = f"{BREACHED_EVENT_PREFIX}{name}"
            return self._act(deadline.on_breach, event, now, notes, breach_event(name))
        clock.escalations_sent.append(alarm.index)
        rung, level = deadline.escalate[alarm.index], alarm.index + 1
        notes = [f"{name} still open {rung.after} after its breach: escalation {level}"]
        event = f"{ESCALATED_EVENT_PREFIX}{name}:{level}"
        return self._act(rung.actions, event, now, notes, breach_event(name, alarm.index))

    def _act(
        self, actions: list[Action], event: str, now: datetime, notes: list[str], trigger: str
    ) -> Outcome:
        """Run a breach's or an escalation's actions; a 'to' among them moves the case."""
        in_place = [action for action in actions if action.to is None]
        messages = self._actions.run(in_place, self.state, notes, self._context(now))
        wants_move = any(action.to for action in actions)
        if wants_move and trigger in self._rules.legal(self.state.stage):
            return self._move(
                trigger, now, actor="system", role=None, data={}, before=messages, notes=notes,
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
        target = self._rules.target(trigger, source)
        self.state.fields.update(data)
        board, fields = self._board, self.state.fields
        if target == source:
            # A transition to the same stage records work done in it (a plan submitted):
            # the stage is not left and entered again, so no entry actions and no timer reset.
            notes += board.moment("event", trigger, at, fields)
            notes += board.retarget(fields)
            messages = before
        else:
            stages = self.definition.stages
            notes += board.resume_leaving(stages[source].pauses, stages[target].pauses, at)
            notes += board.moment("leave", source, at, fields)
            notes += board.moment("event", trigger, at, fields)
            messages = [*before, *self._enter(target, at, notes)]
        step = Step(
            seq=self.state.next_seq, at=at, event=recorded_as or trigger, from_stage=source,
            to_stage=target, actor=actor, role=role, data=dict(data), notes=notes,
        )  # fmt: skip
        return self._record(step, messages)

    def _stay(
        self, event: str, at: datetime, notes: list[str], messages: list[OutboxMessage]
    ) -> Outcome:
        notes += self._board.retarget(self.state.fields)
        stage = self.state.stage
        step = Step(
            seq=self.state.next_seq, at=at, event=event, from_stage=stage, to_stage=stage,
            actor="system", notes=notes,
        )  # fmt: skip
        return self._record(step, messages)

    def _enter(self, stage_name: str, at: datetime, notes: list[str]) -> list[OutboxMessage]:
        self.state.stage, self.state.stage_entered_at = stage_name, at
        stage = self.definition.stages[stage_name]
        notes += self._board.moment("enter", stage_name, at, self.state.fields)
        notes += self._board.pause_in(stage.pauses, at)
        timeout = timeout_state(self.definition, stage_name, at, self.spec.calendars)
        if timeout is not None and timeout.calendar is not None:
            notes.append(timeout.text(ZoneInfo(self.spec.time_zone)))  # says how it counts
        messages = self._actions.run(stage.on_enter, self.state, notes, self._context(at))
        notes += self._board.retarget(self.state.fields)
        if stage.final:
            self.state.closed_at = at
            notes += self._board.stop_all(at)
        return messages

    def clock_measure(self, name: str) -> str:
        return self._board.describe(name)

    def _record(self, step: Step, messages: list[OutboxMessage]) -> Outcome:
        self.state.steps.append(step)
        return Outcome(step=step, messages=messages, final=self.state.closed_at is not None)

    @property
    def priority(self) -> str | None:
        field = self.definition.priority_field
        value = self.state.fields.get(field) if field else None
        return None if value is None else str(value)
