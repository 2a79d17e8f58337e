"""The complaint process written by hand as a plain Temporal workflow: the overhead baseline.

What a team without kesu would write for ``definitions/complaint.yaml``: the rules as Python
tables and ``if`` statements (``bench/raw_rules.py``) and this workflow. It does on Temporal
exactly what ``CaseWorkflow`` does for the same events, so that the only difference measured is
kesu's interpretation of a definition:

- events are updates with a validator (refused events never reach history);
- every step is stored by the same ``record_step`` activity, with the same fields, clock
  snapshots and notes (so the same rows), before the update answers, and ``deliver_outbox``
  runs after a step that queued messages;
- the same five search attributes are upserted after each save;
- one timer is armed for the next deadline or stage timeout, re-armed after every change.

It stays short of kesu on purpose only where the benchmark journey never goes (escalation
chains, business calendars, retargeting): a real hand-written version would need those too.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inputs import (
        DeliverInput,
        DeliverResult,
        OutboxMessage,
        StepRecord,
        StepRecorded,
    )
    from process.clocks import ClockState, ClockStatus
    from process.state import EventInput, EventResult
    from workflows import search

    from .raw_rules import (
        CASE_NUMBER_PREFIX,
        DEADLINES,
        ENTRY_MESSAGES,
        EVENTS,
        FINAL,
        PII_FIELDS,
        TIMEOUTS,
        decide_priority,
        decide_team,
        guard_problem,
    )


class RawCaseInput(BaseModel):
    case_id: str
    fields: dict[str, Any] = Field(default_factory=dict)
    actor: str = "system"


class RawCaseView(BaseModel):
    stage: str
    fields: dict[str, Any]
    clocks: dict[str, dict[str, Any]]
    steps: list[StepRecord]
    allowed_events: list[str]


@workflow.defn(name="RawComplaint")
class RawComplaint:
    @workflow.init
    def __init__(self, case: RawCaseInput) -> None:
        now = workflow.now()
        self._case_id = case.case_id
        self._fields: dict[str, Any] = {"channel": "web", "category": "other", "severity": "normal"}
        self._fields.update(case.fields)
        self._stage, self._entered = "intake", now
        # The storage contract records clocks in kesu's ClockState shape; the logic is ours.
        self._clock_states = {name: ClockState(name=name) for name in DEADLINES}
        self._notes: list[str] = []
        self._warned: set[str] = set()
        self._steps: list[StepRecord] = []
        self._unsaved: list[StepRecord] = []
        self._lock = asyncio.Lock()
        self._changes, self._seen, self._deliver = 0, 0, False
        decide_team(self._fields)
        self._step("case.opened", None, case.actor, None, dict(case.fields), now)

    @workflow.run
    async def run(self, case: RawCaseInput) -> str:
        while True:
            async with self._lock:
                self._fire_due(workflow.now())
                await self._save()
            if self._deliver:
                await self._deliver_outbox()
            if self._stage in FINAL:
                break
            self._seen = self._changes
            alarm = self._next_alarm()
            delay = max((alarm - workflow.now()).total_seconds(), 0.01) if alarm else None
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(self._woken, timeout=delay)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._stage

    def _woken(self) -> bool:
        return self._changes != self._seen or self._deliver

    @workflow.update(name="event")
    async def event(self, event: EventInput) -> EventResult:
        async with self._lock:
            problem = self._problem(event)
            if problem is not None:
                raise ApplicationError(problem, type="IllegalEvent", non_retryable=True)
            source = self._stage
            target, roles, _ = EVENTS[source][event.event]
            role = next((r for r in event.roles if r in roles), event.roles[0] if roles else None)
            self._fields.update(event.data)
            self._move(event.event, target, event.actor, role, dict(event.data), workflow.now())
            step = self._unsaved[-1]
            await self._save()
        return EventResult(seq=step.seq, from_stage=source, stage=target, closed=step.final)

    @event.validator
    def _validate(self, event: EventInput) -> None:
        problem = self._problem(event)
        if problem is not None:
            raise ValueError(problem)

    @workflow.query(name="case")
    def case(self) -> RawCaseView:
        return RawCaseView(
            stage=self._stage,
            fields=self._fields,
            clocks=self._clocks(),
            steps=self._steps,
            allowed_events=list(EVENTS.get(self._stage, {})),
        )

    def _problem(self, event: EventInput) -> str | None:
        where = f"event {event.event!r} in stage {self._stage!r}"
        legal = EVENTS.get(self._stage, {})
        if event.event not in legal:
            return f"{where}: not allowed here (allowed: {', '.join(legal) or 'none'})"
        _, roles, requires = legal[event.event]
        if roles and not set(event.roles) & set(roles):
            return f"{where}: needs role {' or '.join(roles)}"
        missing = [name for name in requires if event.data.get(name) in (None, "")]
        if missing:
            return f"{where}: requires input {', '.join(map(repr, missing))}"
        problem = guard_problem(self._stage, event.event, {**self._fields, **event.data})
        return None if problem is None else f"{where}: {problem}"

    def _move(
        self, event: str, target: str, actor: str, role: str | None, data: Any, at: datetime
    ) -> None:
        source = self._stage
        if event == "accept":
            for name, (text, within, _) in DEADLINES.items():
                clock = self._clock_states[name]
                clock.status, clock.started_at, clock.target = ClockStatus.RUNNING, at, text
                clock.budget, clock.due_at = within, at + within
                self._notes.append(f"{name} started, due {clock.due_at:%Y-%m-%d %H:%M}")
        if source == "triage" and target != "triage":
            self._stop("response", at)
        if event == "submit_plan" or target in ("feedback", "withdrawn"):
            self._stop("plan", at)
        if target in ("feedback", "withdrawn"):
            self._stop("resolution", at)
        if target != source:
            self._stage, self._entered = target, at
            if target == "triage":
                decide_priority(self._fields)
            if target == "escalation":
                self._fields["priority"] = "high"
        self._step(event, source, actor, role, data, at)

    def _stop(self, name: str, at: datetime) -> None:
        clock = self._clock_states[name]
        if clock.status is ClockStatus.RUNNING:
            clock.status, clock.stopped_at, clock.due_at = ClockStatus.STOPPED, at, None
            self._notes.append(f"{name} stopped {'late' if clock.breached_at else 'in time'}")

    def _due(self) -> dict[str, datetime]:
        """Due times of the clocks still to breach."""
        return {
            name: clock.due_at
            for name, clock in self._clock_states.items()
            if clock.due_at is not None and clock.breached_at is None
        }

    def _next_alarm(self) -> datetime | None:
        candidates = list(self._due().values())
        for name, due in self._due().items():
            lead = DEADLINES[name][2]
            if lead is not None and name not in self._warned:
                candidates.append(due - lead)
        if self._stage in TIMEOUTS:
            candidates.append(self._entered + TIMEOUTS[self._stage][0])
        return min(candidates) if candidates else None

    def _fire_due(self, now: datetime) -> None:
        if self._stage in TIMEOUTS and self._entered + TIMEOUTS[self._stage][0] <= now:
            self._move("timeout", TIMEOUTS[self._stage][1], "system", None, {}, now)
        for name, due in self._due().items():
            lead = DEADLINES[name][2]
            warn_at = None if lead is None else due - lead
            if warn_at is not None and warn_at <= now and name not in self._warned:
                self._warned.add(name)
                self._step(f"deadline.warning:{name}", self._stage, "system", None, {}, now)
            if due <= now:
                self._clock_states[name].breached_at = now
                self._step(f"deadline.breached:{name}", self._stage, "system", None, {}, now)

    def _clocks(self) -> dict[str, dict[str, Any]]:
        return {name: clock.model_dump(mode="json") for name, clock in self._clock_states.items()}

    def _step(
        self, event: str, source: str | None, actor: str, role: str | None, data: Any, at: datetime
    ) -> None:
        entered = source != self._stage
        messages = [
            OutboxMessage(
                recipient=recipient,
                template=template,
                params={
                    "case_id": self._case_id,
                    "process": "complaint",
                    "stage": self._stage,
                    "fields": dict(self._fields),
                },
            )
            for recipient, template in (ENTRY_MESSAGES.get(self._stage, []) if entered else [])
        ]
        step = StepRecord(
            case_id=self._case_id, seq=len(self._steps), process="complaint", version=1,
            content_hash="hand-written", event=event, from_stage=source, to_stage=self._stage,
            actor=actor, role=role, data=data, fields=dict(self._fields), clocks=self._clocks(),
            pii_fields=PII_FIELDS, at=at, final=self._stage in FINAL, messages=messages,
            notes=[*self._notes, *(f"notify {m.recipient}: {m.template}" for m in messages)],
            case_number_prefix=CASE_NUMBER_PREFIX,
        )  # fmt: skip
        self._notes = []
        self._steps.append(step)
        self._unsaved.append(step)

    async def _save(self) -> None:
        while self._unsaved:
            step = self._unsaved[0]
            await workflow.execute_activity(
                "record_step",
                step,
                result_type=StepRecorded,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
                ),
            )
            self._unsaved.pop(0)
            self._deliver = self._deliver or bool(step.messages)
            self._changes += 1
        due = list(self._due().values())
        priority = self._fields.get("priority")
        workflow.upsert_search_attributes(
            [
                search.STAGE.value_set(self._stage),
                search.PROCESS.value_set("complaint"),
                search.PRIORITY.value_set(priority) if priority else search.PRIORITY.value_unset(),
                search.NEXT_DEADLINE.value_set(min(due))
                if due
                else search.NEXT_DEADLINE.value_unset(),
                search.BREACHED.value_set(
                    any(clock.breached_at for clock in self._clock_states.values())
                ),
            ]
        )

    async def _deliver_outbox(self) -> None:
        self._deliver = False
        try:
            await workflow.execute_activity(
                "deliver_outbox",
                DeliverInput(case_id=self._case_id),
                result_type=DeliverResult,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError:
            workflow.logger.warning("outbox delivery failed; left to the sweep")
