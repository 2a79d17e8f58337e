"""Storing a case's step from workflow code: as a local activity where it can, durably else.

A local activity runs on the worker inside the workflow task that took the step: no activity
task through the server, no second workflow task to hear back, three fewer history events.
That is what lets a burst of deadlines falling due together be recorded without a queue of
one activity task per breach behind the others. It is given a short budget; past it (the
database is slow or away) the step goes to the durable activity, which retries until the
database is back, on whichever worker is alive. Either way the step is stored once: the
activity is idempotent per case id and step number.

When the task has just started a timer, the durable activity is used straight away: a local
activity keeps the task open until it finishes, and the timer starts only when the task
completes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.inputs import STEP_NOT_STORABLE, StepRecord, StepRecorded

RECORD_STEP = "record_step"
LOCAL_BUDGET = timedelta(seconds=2)
"""Well inside the workflow task's 10 s timeout, which also has to cover the task's own work
when a burst of tasks shares the worker: beyond it, the durable activity takes over (a task
that timed out would be retried, and a burst of retries feeds itself)."""
_LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=1)
)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
_STORE_HEARTBEAT = timedelta(seconds=3)


class StepRefused(Exception):
    """The database refuses the step for its data: retrying cannot help (the case halts)."""

    def __init__(self, refusal: ApplicationError) -> None:
        super().__init__(refusal.message)
        self.reason = refusal.message
        details = refusal.details
        self.failure = str(details[0]) if details else ""


def storage_refusal(error: BaseException) -> ApplicationError | None:
    """The database's refusal of the step's data, wherever the SDK put it: a durable
    activity's failure is an ``ActivityError`` caused by it, a local one's may be wrapped
    differently (or not at all)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ApplicationError) and seen.type == STEP_NOT_STORABLE:
            return seen
        seen = seen.cause if isinstance(seen, FailureError) else seen.__cause__
    return None


async def store_durably(record: StepRecord) -> StepRecorded:
    """The activity through the server; raises ``StepRefused`` for data the database refuses."""
    try:
        recorded: StepRecorded = await workflow.execute_activity(
            RECORD_STEP,
            record,
            result_type=StepRecorded,
            # A step in flight on a worker that died is retried by another once its
            # heartbeats stop (storing one takes milliseconds; a lock wait just retries,
            # and a slow database keeps heartbeating up to the whole timeout).
            start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=_STORE_HEARTBEAT,
            retry_policy=STORE_RETRY,
        )
    except ActivityError as error:
        refusal = storage_refusal(error)
        if refusal is None:
            raise
        raise StepRefused(refusal) from None
    return recorded


async def store_step(record: StepRecord, *, local: bool) -> StepRecorded:
    """Store ``record``: locally first when ``local``, durably when that does not finish."""
    if not local:
        return await store_durably(record)
    try:
        recorded: StepRecorded = await workflow.execute_local_activity(
            RECORD_STEP,
            record,
            result_type=StepRecorded,
            schedule_to_close_timeout=LOCAL_BUDGET,
            retry_policy=_LOCAL_RETRY,
        )
        return recorded
    except FailureError as error:
        refusal = storage_refusal(error)
        if refusal is not None:
            raise StepRefused(refusal) from None
        workflow.logger.warning(
            "case %s step %d: not stored within %s locally; storing it durably",
            record.case_id,
            record.seq,
            LOCAL_BUDGET,
        )
    return await store_durably(record)
