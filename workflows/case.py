"""``CaseWorkflow``: the one generic Temporal workflow that runs a case of any process.

Its input names the case's published definition by content hash (cases started by older kesu
carry the compiled spec itself, which is still accepted), so a case keeps the definition it was
opened with. Events arrive
as updates (validated before they reach history), reads are queries, deadlines and stage
timeouts are durable timers. Every step is persisted by an activity keyed by case id and step
number before the caller hears of it, and its messages leave through the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
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
        HaltReport,
        HaltReported,
        StepRecord,
    )
    from process.calendars import CalendarSpec
    from process.compiler import CompiledSpec
    from process.engine import CaseEngine, RecordedRefusal
    from process.links import LinkInput, recorded_link
    from process.recalendar import CalendarUpdate
    from process.refusals import IllegalEvent, Refusal, RefusalKind
    from process.repair import HaltedStep, RepairInput, record_repair, repair_problem
    from process.state import CaseState, EventInput, EventResult, Outcome, ReassignInput
    from process.timeouts import TimeoutState
    from process.upgrade import UpgradeInput, upgrade_case, upgrade_problem

    from . import definitions, search
    from .alarms import SHORTEST_WAIT, Alarms
    from .storing import STORE_RETRY, StepRefused, store_durably, store_step

WORKFLOW_NAME = "CaseWorkflow"
EVENT_UPDATE = "event"
REASSIGN_UPDATE = "reassign"
UPGRADE_UPDATE = "upgrade"
CALENDAR_UPDATE = "calendar"
REPAIR_UPDATE = "repair"
LINK_UPDATE = "link"
CASE_QUERY = "case"
PROVISIONAL_PATCH = "provisional-due-times"

_DELIVERY_RETRY = RetryPolicy(maximum_attempts=3)
DELIVER_EVENTS_PATCH = "deliver-domain-events-with-their-step"
HALT_ALERT_PATCH = "alert-an-operator-when-a-case-halts"
STEPS_PER_RUN_PATCH = "continue-as-new-after-steps-per-run"
STEPS_PER_RUN = 250
"""Steps one run takes before a long case continues as new (unless Temporal suggests it
sooner): the steps a worker holds in memory, and the history of a run, stay bounded."""
STEPS_KEPT = 50
"""The latest steps a long case carries into its new run (the case query shows them; the
whole timeline is in the database)."""
ANSWERS_KEPT = 200
"""Update ids (with their answers) a case remembers, the latest first to stay: a caller who
sends an event again with its id after the case continued as new gets the first answer."""
LIGHTER_PATCH = "lighter-tasks-alarms-with-their-step"


class CaseInput(BaseModel):
    case_id: str
    definition: str | None = None
    """The content hash of the case's published definition, resolved by the worker."""
    spec: CompiledSpec | None = None
    """The old shape: the compiled definition itself (histories from before the registry)."""
    fields: dict[str, Any] = Field(default_factory=dict)
    actor: str = "system"
    state: CaseState | None = None
    """Set only when a long case continues as new: the state it had reached."""
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    """Calendars published to the case since it opened (``calendar`` updates): they replace
    the definition's own when a long case continues as new."""
    steps_per_run: int | None = Field(default=None, ge=1)
    """Steps a run takes before the case continues as new; None: ``STEPS_PER_RUN``. In the
    input (not the worker's settings) so that a replay continues where the run did."""
    answered: dict[str, EventResult] = Field(default_factory=dict)
    """The latest updates answered, by update id, carried across continue-as-new: Temporal
    tells a repeated update id from a new one only within a run."""


class CaseView(BaseModel):
    """What the ``case`` query answers: the state and what may happen next."""

    state: CaseState
    allowed_events: list[str]
    definition: str
    pending: list[int] = Field(default_factory=list)
    """Steps taken but not yet stored (the database is slow or away): not yet final."""
    halted: str | None = None
    """Why the case stopped: a step the database refuses. It takes no events; an operator acts."""
    timeout: TimeoutState | None = None
    """The current stage's timeout, when it has one: when it fires, and whether provisionally."""


class CaseSummary(BaseModel):
    case_id: str
    stage: str
    steps: int


def _refused(refusal: Refusal) -> ApplicationError:
    """The refusal as a failure whose type is its kind: callers need not read the sentence."""
    return ApplicationError(
        refusal.message,
        refusal.model_dump(mode="json"),
        type=refusal.kind.value,
        non_retryable=True,
    )


def _refuse(refusal: Refusal | None) -> None:
    """Raising in a validator rejects the update before it reaches history."""
    if refusal is not None:
        raise _refused(refusal)


def _unless_recorded(refusal: Refusal | None) -> Refusal | None:
    """A refusal the case records (a conflict of interest) passes the validator: the handler
    stores its step, then refuses."""
    return None if refusal is not None and refusal.record else refusal


def _reference(case: CaseInput) -> str:
    if case.definition is None:
        raise ValueError(f"case {case.case_id}: its input names no definition")
    return case.definition


def with_published(spec: CompiledSpec, published: dict[str, CalendarSpec]) -> CompiledSpec:
    """The spec counting on the calendars published to the case where they reach further."""
    newer = {
        name: calendar
        for name, calendar in published.items()
        if name in spec.calendars and calendar.covers.last >= spec.calendars[name].covers.last
    }
    if not newer:
        return spec
    return spec.model_copy(update={"calendars": {**spec.calendars, **newer}})


def _result(outcome: Outcome) -> EventResult:
    step = outcome.step
    return EventResult(
        seq=step.seq, from_stage=step.from_stage or "", stage=step.to_stage, closed=outcome.final
    )


@workflow.defn(name=WORKFLOW_NAME)
class CaseWorkflow:
    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        self._embedded = case.spec
        self._spec = case.spec or definitions.resolve(_reference(case))
        self._calendars = dict(case.calendars)
        self._spec = with_published(self._spec, self._calendars)
        self._lock = asyncio.Lock()
        self._unsaved: list[Outcome] = []
        self._changes = 0
        self._deliver = False
        # Cases recorded before provisional due times replay without them (no due time past
        # a calendar's end); every case started or continued since counts weekly hours there.
        provisional = workflow.patched(PROVISIONAL_PATCH)
        self._provisional = provisional
        self._halted: str | None = None
        self._halted_step: HaltedStep | None = None
        self._halts = 0
        self._alert: HaltReport | None = None
        """A halt not yet reported to an operator (``report_halt``)."""
        self._steps_per_run = case.steps_per_run or STEPS_PER_RUN
        self._answered = dict(case.answered)
        # Cases recorded before this replay as they ran: a new timer per wait and every
        # step stored by a durable activity. Since: one timer per alarm, armed in the task
        # of the step that sets it, and steps stored locally where that keeps it on time.
        self._lighter = workflow.patched(LIGHTER_PATCH)
        self._alarms = Alarms()
        self._published: tuple[object, ...] | None = None
        if case.state is not None:
            self._engine = CaseEngine(self._spec, case.state, provisional)
        else:
            self._engine, opened = CaseEngine.open(
                self._spec, case.case_id, case.fields, case.actor, workflow.now(), provisional
            )
            self._unsaved.append(opened)
        self._first_seq = 0 if case.state is None else case.state.next_seq

    @workflow.run
    async def run(self, case: CaseInput) -> CaseSummary:
        while True:
            async with self._lock:
                self._unsaved.extend(self._engine.fire_due(workflow.now()))
                await self._save()
            if self._halted is not None:
                # Readable (queries) and refusing events until an operator repairs the case.
                await self._while_halted()
            if self._deliver:
                await self._deliver_outbox()
            engine = self._engine  # read after every wait: an upgrade replaces it
            if engine.state.closed_at is not None:
                break
            if self._run_is_long() and workflow.all_handlers_finished():
                workflow.continue_as_new(
                    CaseInput(
                        case_id=case.case_id,
                        definition=self._spec.content_hash,
                        spec=self._embedded,  # not published, perhaps: keep carrying it
                        state=engine.state.trimmed(STEPS_KEPT),
                        calendars=self._calendars,
                        steps_per_run=case.steps_per_run,
                        answered=self._answered,
                    )
                )
            await self._sleep_until_something_happens()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._deliver:
            await self._deliver_outbox()
        state = self._engine.state
        return CaseSummary(case_id=case.case_id, stage=state.stage, steps=state.next_seq)

    def _run_is_long(self) -> bool:
        """Time to continue as new: Temporal suggests it (the history is large), or this run
        has taken ``steps_per_run`` steps. (Runs recorded before the bound replay without it.)"""
        if workflow.info().is_continue_as_new_suggested():
            return True
        taken = self._engine.state.next_seq - self._first_seq
        return taken >= self._steps_per_run and workflow.patched(STEPS_PER_RUN_PATCH)

    async def _sleep_until_something_happens(self) -> None:
        seen = self._changes
        if self._lighter:
            self._arm()
            await workflow.wait_condition(
                lambda: (
                    self._changes != seen
                    or self._deliver
                    or self._halted is not None
                    or self._alarms.rang
                )
            )
            return
        alarm = self._engine.next_alarm()
        delay = summary = None
        if alarm is not None:
            delay = max((alarm - workflow.now()).total_seconds(), SHORTEST_WAIT)
            # Metadata only (not replayed against history): the Web UI says which deadline.
            summary = self._engine.next_alarm_summary()
        with contextlib.suppress(TimeoutError):  # on a timeout an alarm is due: the loop fires it
            await workflow.wait_condition(
                lambda: self._changes != seen or self._deliver or self._halted is not None,
                timeout=delay,
                timeout_summary=summary,
            )

    @workflow.update(name=EVENT_UPDATE)
    async def event(self, event: EventInput) -> EventResult:
        return await self._change(lambda now: self._engine.apply_event(event, now))

    @event.validator
    def _validate_event(self, event: EventInput) -> None:
        if self._answer() is None:
            problem = self._engine.check_event(event, workflow.now())
            _refuse(self._halt_refusal() or _unless_recorded(problem))

    @workflow.update(name=REASSIGN_UPDATE)
    async def reassign(self, request: ReassignInput) -> EventResult:
        return await self._change(lambda now: self._engine.reassign(request, now))

    @reassign.validator
    def _validate_reassign(self, request: ReassignInput) -> None:
        if self._answer() is None:
            problem = self._engine.reassign_problem(request)
            _refuse(self._halt_refusal() or _unless_recorded(problem))

    @workflow.update(name=UPGRADE_UPDATE)
    async def upgrade(self, request: UpgradeInput) -> EventResult:
        """Move the case to a newer published version: a recorded ``case.upgraded`` step."""
        return await self._change(lambda now: self._upgrade(request, now))

    @upgrade.validator
    def _validate_upgrade(self, request: UpgradeInput) -> None:
        target = definitions.CACHE.get(request.to_definition)
        # Not in the cache: the handler waits for the worker to fetch it, and checks then.
        if target is not None and self._answer() is None:
            _refuse(self._upgrade_problem(target, request))

    def _upgrade_problem(self, target: CompiledSpec, request: UpgradeInput) -> Refusal | None:
        state = self._engine.state
        closed = state.closed_at is not None
        return upgrade_problem(
            state.case_id, state.stage, state.fields, closed, self._spec, target,
            request.stage_map, request.field_map,
        )  # fmt: skip

    def _upgrade(self, request: UpgradeInput, now: datetime) -> Outcome:
        target = definitions.resolve(request.to_definition)
        problem = self._upgrade_problem(target, request)
        if problem is not None:
            raise IllegalEvent(problem)
        state, step = upgrade_case(self._engine.state, self._spec, target, request, now)
        self._spec, self._embedded = with_published(target, self._calendars), None
        self._engine = CaseEngine(self._spec, state, self._provisional)
        return Outcome(step=step)

    @workflow.update(name=CALENDAR_UPDATE)
    async def calendar(self, update: CalendarUpdate) -> EventResult:
        """New calendar data (next year's holidays): business clocks re-target, and the case
        keeps the calendar from now on, across continue-as-new too."""

        def recalendar(now: datetime) -> Outcome:
            outcome = self._engine.update_calendar(update, now)
            self._spec = self._engine.spec
            self._calendars[update.calendar.calendar] = update.calendar
            return outcome

        return await self._change(recalendar)

    @calendar.validator
    def _validate_calendar(self, update: CalendarUpdate) -> None:
        if self._answer() is None:
            _refuse(self._engine.calendar_problem(update))

    @workflow.update(name=REPAIR_UPDATE)
    async def repair(self, request: RepairInput) -> EventResult:
        """Store the step the case halted on again (its cause fixed) and go on; recorded as a
        ``case.repaired`` step. Still refused by the database: halted again, with the reason."""
        async with self._lock:
            halted = self._halted_step
            _refuse(repair_problem(self._engine.state.case_id, halted, request))
            assert halted is not None  # repair_problem refuses otherwise
            self._halted = self._halted_step = None
            await self._save()  # the halted step (and any after it) again
            _refuse(self._halt_refusal())  # still refused: halted again, saying why
            outcome = record_repair(self._engine.state, halted, request, workflow.now())
            self._unsaved.append(outcome)
            await self._save()
            _refuse(self._halt_refusal())
            workflow.upsert_search_attributes([search.HALTED.value_set(False)])
        return _result(outcome)

    @repair.validator
    def _validate_repair(self, request: RepairInput) -> None:
        _refuse(repair_problem(self._engine.state.case_id, self._halted_step, request))

    @workflow.update(name=LINK_UPDATE)
    async def link(self, request: LinkInput) -> EventResult:
        """Merge this case into a primary case (it closes), record a duplicate merged into it,
        or join a group complaint. A link already recorded answers with its step again."""
        recorded = recorded_link(self._engine.state.steps, request)
        if recorded is None:
            try:
                return await self._change(lambda now: self._engine.link(request, now))
            except ApplicationError:
                # Another request for the same link got the lock first: it is recorded.
                recorded = recorded_link(self._engine.state.steps, request)
                if recorded is None:
                    raise
        closed = self._engine.state.closed_at is not None
        return EventResult(
            seq=recorded.seq, from_stage=recorded.from_stage or "", stage=recorded.to_stage,
            closed=closed,
        )  # fmt: skip

    @link.validator
    def _validate_link(self, request: LinkInput) -> None:
        _refuse(self._halt_refusal() or self._engine.link_problem(request))

    async def _while_halted(self) -> None:
        """Alert an operator of the halt (once), then wait until a repair lifts it."""
        alert, self._alert = self._alert, None
        # Halted cases recorded before alerts replay waiting as they did.
        if alert is not None and workflow.patched(HALT_ALERT_PATCH):
            workflow.upsert_search_attributes([search.HALTED.value_set(True)])
            try:
                await workflow.execute_activity(
                    "report_halt",
                    alert,
                    result_type=HaltReported,
                    start_to_close_timeout=timedelta(seconds=10),
                    retry_policy=STORE_RETRY,  # an outage: until the database is back
                )
                await self._deliver_outbox()  # the alert now, not at the next sweep
            except ActivityError:
                # Not for want of a database (retried above): the halt stays visible in the
                # log, the case query and the search attribute.
                workflow.logger.error(
                    "case %s: the operator's alert could not be queued", alert.case_id
                )
        await workflow.wait_condition(lambda: self._halted is None)

    async def _change(self, change: Callable[[datetime], Outcome]) -> EventResult:
        """Apply a change under the lock and answer only once its step is stored."""
        answered = self._answer()
        if answered is not None:  # sent again after the case continued as new
            return answered
        async with self._lock:
            # State may have moved since the validator ran (another event got the lock first).
            halted = self._halt_refusal()
            if halted is not None:
                raise _refused(halted)
            try:
                outcome = change(workflow.now())
            except RecordedRefusal as refused:
                # Stored before the caller hears of the refusal: the timeline keeps it.
                self._unsaved.append(refused.outcome)
                await self._save()
                raise _refused(refused.refusal) from None
            except IllegalEvent as error:
                raise _refused(error.refusal) from None
            self._unsaved.append(outcome)
            await self._save()
        halted = self._halt_refusal()
        if halted is not None:
            raise _refused(halted)
        result = _result(outcome)
        self._remember(result)
        return result

    def _answer(self) -> EventResult | None:
        """The answer already given to this update's id in an earlier run of the case."""
        update = workflow.current_update_info()
        return None if update is None else self._answered.get(update.id)

    def _remember(self, result: EventResult) -> None:
        update = workflow.current_update_info()
        if update is None:
            return
        self._answered[update.id] = result
        while len(self._answered) > ANSWERS_KEPT:
            del self._answered[next(iter(self._answered))]

    def _halt_refusal(self) -> Refusal | None:
        if self._halted is None:
            return None
        return Refusal(kind=RefusalKind.CONFLICT, message=self._halted)

    @workflow.query(name=CASE_QUERY)
    def case(self) -> CaseView:
        return CaseView(
            state=self._engine.state,
            allowed_events=self._engine.allowed_events(),
            definition=self._spec.label,
            pending=[outcome.step.seq for outcome in self._unsaved],
            halted=self._halted,
            timeout=self._engine.stage_timeout(),
        )

    def _arm(self) -> None:
        """The timer for the engine's next alarm, in this task (kept if it did not move)."""
        engine = self._engine
        self._alarms.arm(engine.next_alarm(), engine.next_alarm_summary())

    async def _save(self) -> None:
        """Persist steps in order; a step is only reported once the database has it."""
        if self._lighter and self._unsaved and self._halted is None:
            self._arm()  # the deadlines these steps set start with them, not a task later
        while self._unsaved and self._halted is None:
            outcome = self._unsaved[0]
            record = self._record(outcome)
            try:
                if self._lighter:
                    local = not self._alarms.started_in_this_task()
                    recorded = await store_step(record, local=local)
                else:
                    recorded = await store_durably(record)
            except StepRefused as refused:
                self._halt(outcome, refused.reason, refused.failure)
                break
            self._unsaved.pop(0)
            # Domain events are queued by the activity, beside the step's own messages: they
            # go out with this delivery, not with the next sweep. (Histories from before this
            # delivered only the step's own messages; the patch keeps them replaying.)
            queued_more = recorded.messages_queued > len(outcome.messages)
            more = queued_more and workflow.patched(DELIVER_EVENTS_PATCH)
            self._deliver = self._deliver or bool(outcome.messages) or more
            self._changes += 1
        self._publish()

    def _halt(self, outcome: Outcome, reason: str, failure: str) -> None:
        """A step the database refuses for its data: retrying cannot help, so the case stops
        where everyone can see it (the case query, the log, an operator's alert) instead of
        retrying forever."""
        step = outcome.step
        state = self._engine.state
        self._halted = f"case {state.case_id} is halted: {reason}"
        self._halted_step = HaltedStep(seq=step.seq, event=step.event, failure=failure)
        self._halts += 1
        self._alert = HaltReport(
            case_id=state.case_id, process=self._spec.process, version=self._spec.version,
            stage=step.to_stage, seq=step.seq, event=step.event, failure=failure,
            at=workflow.now(), halt=self._halts,
        )  # fmt: skip
        # No fields or event data here: the log is not the place for customer data.
        workflow.logger.error(
            "case halted at step %d (%s): %s; an operator must repair it",
            step.seq,
            step.event,
            reason,
        )

    def _record(self, outcome: Outcome) -> StepRecord:
        step, state = outcome.step, self._engine.state
        return StepRecord(
            **dict(step),
            case_id=state.case_id,
            process=self._spec.process,
            version=self._spec.version,
            content_hash=self._spec.content_hash,
            fields=state.fields,
            # A snapshot: the engine keeps changing its clocks after this step.
            clocks={name: clock.model_copy(deep=True) for name, clock in state.clocks.items()},
            pii_fields=self._spec.definition.pii_fields,
            final=outcome.final,
            messages=outcome.messages,
            case_number_prefix=self._spec.definition.number_prefix,
            time_zone=self._spec.time_zone,
            reporting=self._spec.definition.reporting,
            merging=self._spec.definition.merging,
        )

    async def _deliver_outbox(self) -> None:
        self._deliver = False
        try:
            await workflow.execute_activity(
                "deliver_outbox",
                DeliverInput(case_id=self._engine.state.case_id),
                result_type=DeliverResult,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=_DELIVERY_RETRY,
            )
        except ActivityError:
            # The messages stay in the outbox; the worker's sweep delivers them later. A case
            # must not fail because a mail server is down.
            workflow.logger.warning("outbox delivery failed; left to the sweep")

    def _publish(self) -> None:
        state = self._engine.state
        priority = self._engine.priority
        deadline = state.next_deadline
        published = (
            state.stage, state.process, priority, deadline, state.breached,
            self._engine.provisional,
        )  # fmt: skip
        if self._lighter and published == self._published:
            return  # the same values again: an upsert would only lengthen the history
        self._published = published
        workflow.upsert_search_attributes(
            [
                search.STAGE.value_set(state.stage),
                search.PROCESS.value_set(state.process),
                search.PRIORITY.value_set(priority)
                if priority is not None
                else search.PRIORITY.value_unset(),
                search.NEXT_DEADLINE.value_set(deadline)
                if deadline is not None
                else search.NEXT_DEADLINE.value_unset(),
                search.BREACHED.value_set(state.breached),
                search.PROVISIONAL.value_set(self._engine.provisional),
            ]
        )
