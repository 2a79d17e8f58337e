"""Bounded waits on workers, and what to tell a caller whose wait ran out.

A call that needs a worker (an event, a read, opening a case) waits at most ``wait`` seconds.
If no answer comes, Temporal itself says why: no worker has polled the case's task queue
lately (``DescribeTaskQueue``), or a worker is there but cannot store the step (the case's
``record_step`` activity is failing: its last failure names the database error), or neither.
``/healthz`` asks the same questions without a case.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from activities.storage import database_problem, make_engine, make_session_factory
from process.refusals import RefusalKind

from .refusals import KesuError

DEFAULT_WAIT = 30.0
"""Seconds a call waits for a worker before it answers "unavailable" (``KESU_WAIT_SECONDS``)."""

RECENT_POLL = timedelta(seconds=90)
"""A live worker polls again at least every minute or so; older pollers are gone."""
_PROBE_TIMEOUT = timedelta(seconds=5)

DatabaseProbe = Callable[[], Awaitable[str | None]]
"""Checks the database: None when it answers, else why not."""

T = TypeVar("T")


def database_probe(url: str) -> DatabaseProbe:
    """``database_problem`` on ``url``, in a thread (drivers block)."""
    sessions = make_session_factory(make_engine(url))

    async def probe() -> str | None:
        return await asyncio.to_thread(database_problem, sessions)

    return probe


async def polling_workers(client: Client, task_queue: str) -> int:
    """How many workers polled ``task_queue`` for workflow tasks recently."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    response = await client.workflow_service.describe_task_queue(request, timeout=_PROBE_TIMEOUT)
    since = datetime.now(UTC) - RECENT_POLL
    return sum(
        1
        for poller in response.pollers
        if not poller.HasField("last_access_time")
        or poller.last_access_time.ToDatetime(tzinfo=UTC) >= since
    )


async def why_waiting(client: Client, task_queue: str, case_id: str | None) -> str:
    """Why a worker has not answered for ``case_id``, as precisely as Temporal can tell."""
    try:
        if not await polling_workers(client, task_queue):
            return f"no worker polls task queue {task_queue!r}; start one (python worker.py)"
    except RPCError as error:
        return f"Temporal does not answer: {error.message}"
    if case_id is not None:
        with contextlib.suppress(RPCError):
            described = await client.get_workflow_handle(case_id).describe(
                rpc_timeout=_PROBE_TIMEOUT
            )
            for pending in described.raw_description.pending_activities:
                if pending.attempt > 1 and pending.HasField("last_failure"):
                    failure = await client.data_converter.decode_failure(pending.last_failure)
                    return (
                        f"the worker cannot store the step (attempt {pending.attempt}): "
                        f"{failure}; is the database reachable?"
                    )
    return "the worker has not answered (busy, or the database is slow)"


class Waiter:
    """Runs calls that need a worker for at most ``wait`` seconds each."""

    def __init__(self, client: Client, task_queue: str, wait: float) -> None:
        self._client = client
        self._task_queue = task_queue
        self.wait = wait

    async def bounded(self, case_id: str, call: Awaitable[T], then: str = "") -> T:
        """``call``, or an UNAVAILABLE refusal saying why no worker answered in time."""
        try:
            async with asyncio.timeout(self.wait):
                return await call
        # The SDK turns a cancelled update wait into its own error: the same timeout.
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            reason = await why_waiting(self._client, self._task_queue, case_id)
            problem = f"case {case_id}: no answer within {self.wait:g} s: {reason}{then}"
            raise KesuError(problem, RefusalKind.UNAVAILABLE) from None


@dataclass(frozen=True)
class Health:
    workers: int
    database: str
    """``ok``, ``not checked`` (this process does not know the database) or the problem."""
    problems: list[str]


async def health(client: Client, task_queue: str, database: DatabaseProbe | None) -> Health:
    """Workers polling the task queue and the database, each with its problem if any."""
    problems: list[str] = []
    try:
        workers = await polling_workers(client, task_queue)
    except RPCError as error:
        workers = 0
        problems.append(f"Temporal does not answer: {error.message}")
    else:
        if not workers:
            problems.append(f"no worker polls task queue {task_queue!r}")
    state = "not checked"
    if database is not None:
        try:
            problem = await asyncio.wait_for(database(), _PROBE_TIMEOUT.total_seconds())
        except TimeoutError:
            problem = f"no answer within {_PROBE_TIMEOUT.total_seconds():g} s"
        state = "ok" if problem is None else f"unreachable: {problem}"
        if problem is not None:
            problems.append(f"database {state}")
    return Health(workers=workers, database=state, problems=problems)
