"""The operations other systems use: open a case, send it an event, read it, list cases.

``starter.py`` (CLI) and the Python API are thin layers over ``Kesu``; a user's mistake becomes a
``KesuError`` whose message says what to fix, never a stack trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows import search
from workflows.case import EVENT_UPDATE, REASSIGN_UPDATE, CaseInput, CaseView, CaseWorkflow
from workflows.compiler import CompiledSpec
from workflows.fields import data_problems, has_value
from workflows.state import EventInput, EventResult, ReassignInput

MAX_KEY_LENGTH = 200


class KesuError(Exception):
    """A request kesu refuses, with the reason (unknown process, bad field, illegal event...)."""


@dataclass(frozen=True)
class Started:
    case_id: str
    created: bool
    """False when a case with this key already existed: nothing new was started."""


@dataclass(frozen=True)
class CaseListing:
    case_id: str
    process: str | None
    stage: str | None
    priority: str | None
    next_deadline: datetime | None
    breached: bool
    running: bool
    opened_at: datetime


class Kesu:
    def __init__(self, client: Client, specs: Mapping[str, CompiledSpec], task_queue: str) -> None:
        self._client = client
        self._specs = dict(specs)
        self._task_queue = task_queue

    @property
    def processes(self) -> Mapping[str, CompiledSpec]:
        return self._specs

    def spec(self, process: str) -> CompiledSpec:
        try:
            return self._specs[process]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise KesuError(f"unknown process {process!r} (known: {known})") from None

    async def start_case(
        self,
        process: str,
        fields: Mapping[str, Any],
        *,
        key: str | None = None,
        actor: str = "system",
    ) -> Started:
        """Open a case. With ``key`` (the caller's own id for it) a retry opens nothing new."""
        spec = self.spec(process)
        declared = spec.definition.fields
        problems = [f"{name}: {problem}" for name, problem in data_problems(declared, fields)]
        problems += [
            f"{name}: required"
            for name, field in spec.definition.fields.items()
            if field.required and not has_value(fields.get(name))
        ]
        if problems:
            raise KesuError(f"cannot open a {process} case: " + "; ".join(problems))
        case_id = f"{process}-{_check_key(key) if key is not None else uuid.uuid4().hex[:12]}"
        existed = await self._exists(case_id)
        try:
            await self._client.start_workflow(
                CaseWorkflow.run,
                CaseInput(case_id=case_id, spec=spec, fields=dict(fields), actor=actor),
                id=case_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # A finished case keeps its id: the same key never opens a second case.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(search.PROCESS, process),
                        SearchAttributePair(search.STAGE, spec.definition.initial_stage),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError:
            return Started(case_id=case_id, created=False)
        return Started(case_id=case_id, created=not existed)

    async def send_event(
        self,
        case_id: str,
        event: str,
        *,
        actor: str = "system",
        roles: list[str] | None = None,
        data: Mapping[str, Any] | None = None,
        event_id: str | None = None,
    ) -> EventResult:
        """Apply an event. Sent again with the same ``event_id``, it is applied only once."""
        request = EventInput(event=event, actor=actor, roles=roles or [], data=dict(data or {}))
        return await self._update(case_id, EVENT_UPDATE, request, event_id)

    async def reassign_case(
        self,
        case_id: str,
        from_assignee: str,
        to_assignee: str,
        *,
        actor: str = "system",
        reason: str | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        """Move an open case to another responsible person; recorded in its timeline."""
        request = ReassignInput(
            from_assignee=from_assignee, to_assignee=to_assignee, actor=actor, reason=reason
        )
        return await self._update(case_id, REASSIGN_UPDATE, request, request_id)

    async def _update(
        self, case_id: str, name: str, request: BaseModel, update_id: str | None
    ) -> EventResult:
        handle = self._handle(case_id)
        try:
            result: EventResult = await handle.execute_update(
                name, request, id=update_id or uuid.uuid4().hex, result_type=EventResult
            )
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
            raise KesuError(reason) from None
        except RPCError as error:
            raise self._rpc_problem(case_id, error) from None
        return result

    async def get_case(self, case_id: str) -> CaseView:
        try:
            return await self._handle(case_id).query(CaseWorkflow.case)
        except RPCError as error:
            raise self._rpc_problem(case_id, error) from None

    async def list_cases(
        self,
        *,
        process: str | None = None,
        stage: str | None = None,
        overdue: bool = False,
        include_finished: bool = False,
        limit: int = 100,
    ) -> list[CaseListing]:
        clauses = [f"WorkflowType = '{CaseWorkflow.__name__}'"]
        if process is not None:
            clauses.append(f"{search.PROCESS.name} = {_quoted(self.spec(process).process)}")
        if stage is not None:
            clauses.append(f"{search.STAGE.name} = {_quoted(stage)}")
        if not include_finished:
            clauses.append("ExecutionStatus = 'Running'")
        if overdue:
            now = datetime.now(UTC).isoformat()
            clauses.append(
                f"({search.BREACHED.name} = true OR {search.NEXT_DEADLINE.name} < {_quoted(now)})"
            )
        listings = []
        async for execution in self._client.list_workflows(" AND ".join(clauses), limit=limit):
            attributes = execution.typed_search_attributes
            listings.append(
                CaseListing(
                    case_id=execution.id,
                    process=attributes.get(search.PROCESS),
                    stage=attributes.get(search.STAGE),
                    priority=attributes.get(search.PRIORITY),
                    next_deadline=attributes.get(search.NEXT_DEADLINE),
                    breached=bool(attributes.get(search.BREACHED)),
                    running=execution.status == WorkflowExecutionStatus.RUNNING,
                    opened_at=execution.start_time,
                )
            )
        return listings

    def _handle(self, case_id: str) -> WorkflowHandle[CaseWorkflow, Any]:
        return self._client.get_workflow_handle_for(CaseWorkflow.run, case_id)

    async def _exists(self, case_id: str) -> bool:
        try:
            await self._handle(case_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    @staticmethod
    def _rpc_problem(case_id: str, error: RPCError) -> KesuError:
        if error.status == RPCStatusCode.NOT_FOUND:
            if "completed" in error.message or "closed" in error.message:
                return KesuError(f"case {case_id} is closed: it takes no more events")
            return KesuError(f"no case {case_id!r}")
        return KesuError(f"case {case_id}: {error.message}")


def _check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or any(ch.isspace() or ch == "/" for ch in key):
        raise KesuError(
            f"a case key is 1-{MAX_KEY_LENGTH} characters without spaces or '/', got {key!r}"
        )
    return key


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
