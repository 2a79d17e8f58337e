"""The operations other systems use: open a case, send it an event, read it, list cases.

``starter.py`` (CLI) and the Python API are thin layers over ``Kesu``; a user's mistake becomes a
``KesuError`` whose message says what to fix, never a stack trace.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
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

from activities.metrics import EVENTS_REFUSED
from process.access import opening_problem
from process.catalog import SpecCatalog
from process.compiler import CompiledSpec
from process.fields import data_problems, has_value, storage_problem, text_problem
from process.links import LinkInput
from process.recalendar import CalendarUpdate
from process.refusals import RefusalKind, refusal_kind_of
from process.repair import RepairInput
from process.state import CaseState, EventInput, EventResult, ReassignInput
from process.upgrade import UpgradeInput
from workflows import search
from workflows.case import (
    CALENDAR_UPDATE,
    EVENT_UPDATE,
    LINK_UPDATE,
    REASSIGN_UPDATE,
    REPAIR_UPDATE,
    UPGRADE_UPDATE,
    CaseInput,
    CaseView,
    CaseWorkflow,
)

from .listing import (
    CaseFilter,
    CaseListing,
    CasePage,
    list_query,
    listing,
    open_token,
    seal_token,
)
from .refusals import KesuError
from .upgrades import Move, UpgradePlan, plan_upgrade, run_upgrade, unstored_open_cases
from .versions import PublishedDefinitions
from .waiting import DEFAULT_WAIT, DatabaseProbe, Health, Waiter, health

__all__ = [
    "CaseFilter",
    "CaseListing",
    "CasePage",
    "Health",
    "Kesu",
    "KesuError",
    "RefusalKind",
    "Started",
]

MAX_KEY_LENGTH = 200


CASE_TASK_TIMEOUT = timedelta(seconds=5)
"""How long a worker may hold one of a case's workflow tasks: a task held by a worker that
died is given to another after this (Temporal's default is 10 s, which a message caused by
that task waited on top of the restart). A case's task takes milliseconds; replaying a
whole case on a fresh worker well under a second."""


@dataclass(frozen=True)
class Started:
    case_id: str
    created: bool
    """False when a case with this key already existed: nothing new was started."""


REGISTRY_REFRESH_SECONDS = 2.0


class Kesu:
    """The operations, on ``specs`` (which every worker must have published), or with a
    ``registry`` on every published version, new cases opening on each process's newest."""

    def __init__(
        self,
        client: Client,
        specs: Mapping[str, CompiledSpec],
        task_queue: str,
        registry: PublishedDefinitions | None = None,
        *,
        wait: float = DEFAULT_WAIT,
        database: DatabaseProbe | None = None,
    ) -> None:
        """``wait``: seconds a call waits for a worker before it is refused as unavailable;
        ``database``: how ``health`` checks the database (None: not checked here)."""
        self._client = client
        self._waiter = Waiter(client, task_queue, wait)
        self._database = database
        self._pinned = dict(specs)
        self._catalog = SpecCatalog(specs.values())
        self._registry = registry
        self._read_at = float("-inf")
        self._task_queue = task_queue

    def refresh(self) -> None:
        """Read newly published versions now (otherwise at most every few seconds)."""
        self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        if self._registry is None:
            return
        if force or time.monotonic() - self._read_at >= REGISTRY_REFRESH_SECONDS:
            self._registry.fill(self._catalog)
            self._read_at = time.monotonic()

    @property
    def processes(self) -> Mapping[str, CompiledSpec]:
        """The version of each process that new cases open on."""
        if self._registry is None:
            return self._pinned
        self._refresh()
        return {**self._catalog.current(), **self._pinned}

    @property
    def client(self) -> Client:
        return self._client

    @property
    def task_queue(self) -> str:
        return self._task_queue

    def spec(self, process: str) -> CompiledSpec:
        processes = self.processes
        try:
            return processes[process]
        except KeyError:
            known = ", ".join(sorted(processes)) or "none"
            hint = (
                "" if processes else ": publish definitions (starter.py publish) or start a worker"
            )
            raise KesuError(f"unknown process {process!r} (known: {known}){hint}") from None

    def definition_of(self, state: CaseState) -> CompiledSpec | None:
        """The published version a case runs on; None when it cannot be found (then callers
        fail closed: every value is customer data, no titles)."""
        found = self._catalog.get(state.content_hash)
        if found is None and self._registry is not None:
            self._refresh(force=True)
            found = self._catalog.get(state.content_hash)
        return found

    def versions(self, process: str) -> list[CompiledSpec]:
        """Every known version of ``process``, oldest first."""
        self._refresh()
        return self._catalog.versions(process)

    async def check_temporal(self) -> None:
        """Raise an ``UNAVAILABLE`` KesuError unless the Temporal frontend answers (health)."""
        try:
            serving = await self._client.service_client.check_health(timeout=timedelta(seconds=5))
        except RPCError as error:
            serving, reason = False, error.message
        else:
            reason = "not serving"
        if not serving:
            raise KesuError(f"Temporal does not answer: {reason}", RefusalKind.UNAVAILABLE)

    async def health(self) -> Health:
        """Temporal, the workers polling the task queue, the database; UNAVAILABLE if any fails."""
        await self.check_temporal()
        found = await health(self._client, self._task_queue, self._database)
        if found.problems:
            raise KesuError("; ".join(found.problems), RefusalKind.UNAVAILABLE)
        return found

    async def start_case(
        self,
        process: str,
        fields: Mapping[str, Any],
        *,
        key: str | None = None,
        actor: str = "system",
        roles: list[str] | None = None,
        stored: bool = False,
    ) -> Started:
        """Open a case. With ``key`` (the caller's own id for it) a retry opens nothing new.

        ``roles`` are the roles ``actor`` acts in: the definition's ``opened_by`` says which
        may open a case. ``stored``: return only once the opening step is stored (at most the
        wait), as the HTTP API does."""
        spec = self.spec(process)
        _check_texts(actor=actor, roles=roles or [])
        refused = opening_problem(spec.definition, roles or [], actor)
        if refused is not None:
            raise KesuError(refused, RefusalKind.FORBIDDEN)
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
        try:
            existed = await self._exists(case_id)
            await self._client.start_workflow(
                CaseWorkflow.run,
                CaseInput(
                    case_id=case_id, definition=spec.content_hash, fields=dict(fields), actor=actor
                ),
                id=case_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # A finished case keeps its id: the same key never opens a second case.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                task_timeout=CASE_TASK_TIMEOUT,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(search.PROCESS, process),
                        SearchAttributePair(search.STAGE, spec.definition.initial_stage),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError:
            return Started(case_id=case_id, created=False)
        except RPCError as error:
            raise self._rpc_problem(case_id, error) from None
        if stored:
            # Opened means stored: a case the database has not taken yet is not reported so.
            then = "; it is stored once a worker can: sending the same key again is safe"
            await self._waiter.bounded(case_id, self._stored_opening(case_id), then)
        return Started(case_id=case_id, created=not existed)

    async def _stored_opening(self, case_id: str) -> None:
        pause = 0.02
        while True:
            view = await self.get_case(case_id, bounded=False)
            if view.halted:
                raise KesuError(view.halted, RefusalKind.CONFLICT)
            if 0 not in view.pending:
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

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
        _check_texts(case=case_id, event=event, actor=actor, roles=roles or [], id=event_id or "")
        for name, value in (data or {}).items():
            # Checked here as well as in the case: such a value cannot even travel to it.
            problem = text_problem(name) or storage_problem(value)
            if problem is not None:
                raise KesuError(f"event {event!r}: field {name!r}: {problem}")
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
        roles: list[str] | None = None,
        data: Mapping[str, Any] | None = None,
        justification: str | None = None,
    ) -> EventResult:
        """Move an open case to another responsible person; recorded in its timeline.

        ``data``: what the process's conflict rules (回避) need of the new assignee (their
        branch); ``justification``: why a supervisor moves it despite a conflict."""
        _check_texts(
            actor=actor, to=to_assignee, reason=reason or "", id=request_id or "",
            roles=roles or [], justification=justification or "",
        )  # fmt: skip
        for name, value in (data or {}).items():
            problem = text_problem(name) or storage_problem(value)
            if problem is not None:
                raise KesuError(f"reassigning case {case_id}: field {name!r}: {problem}")
        request = ReassignInput(
            from_assignee=from_assignee, to_assignee=to_assignee, actor=actor, reason=reason,
            roles=roles or [], data=dict(data or {}), justification=justification,
        )  # fmt: skip
        return await self._update(case_id, REASSIGN_UPDATE, request, request_id)

    async def repair_case(
        self,
        case_id: str,
        reason: str,
        *,
        actor: str = "system",
        role: str | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        """Retry the step a halted case stopped on, once its cause is fixed: the case goes on,
        with a ``case.repaired`` step saying who, when and why; or it halts again (409, with
        the reason)."""
        _check_texts(case=case_id, actor=actor, reason=reason, role=role or "", id=request_id or "")
        request = RepairInput(actor=actor, reason=reason, role=role)
        return await self._update(case_id, REPAIR_UPDATE, request, request_id)

    async def upgrade_case(
        self,
        case_id: str,
        to_definition: str,
        *,
        stage_map: Mapping[str, str] | None = None,
        field_map: Mapping[str, str] | None = None,
        actor: str = "system",
        request_id: str | None = None,
    ) -> EventResult:
        """Move an open case to another published version (by content hash); recorded."""
        request = UpgradeInput(
            to_definition=to_definition,
            stage_map=dict(stage_map or {}),
            field_map=dict(field_map or {}),
            actor=actor,
        )
        return await self._update(case_id, UPGRADE_UPDATE, request, request_id)

    async def upgrade(
        self,
        process: str,
        from_version: int,
        to_version: int,
        stage_map: Mapping[str, str] | None = None,
        *,
        field_map: Mapping[str, str] | None = None,
        dry_run: bool = False,
        actor: str = "system",
        progress: Callable[[Move], None] | None = None,
    ) -> UpgradePlan:
        """Move the open cases of ``process`` from one published version to another.

        ``field_map``: old field -> field of the target, for renamed fields. Every case is
        checked first; if one cannot move (or with ``dry_run``) nothing moves and the plan
        says why, case by case. Safe to rerun: moved cases are not moved again.
        """
        if self._registry is None:
            raise KesuError("upgrades read the registry: open kesu on its database")
        unstored = await unstored_open_cases(self, self._registry, process)
        plan = plan_upgrade(
            self._registry, process, from_version, to_version, stage_map or {}, field_map,
            unstored,
        )  # fmt: skip
        if dry_run or plan.refused:
            return plan
        moves = await run_upgrade(self, plan, actor=actor, progress=progress)
        return dataclasses.replace(plan, moves=moves, carried_out=True)

    async def link_case(
        self, case_id: str, request: LinkInput, request_id: str | None = None
    ) -> EventResult:
        """Record a merge, a duplicate or a group on one case (``service.linking`` pairs them)."""
        _check_texts(case=case_id, other=request.other, actor=request.actor, roles=request.roles)
        _check_texts(reason=request.reason or "", plan=request.plan or "", id=request_id or "")
        return await self._update(case_id, LINK_UPDATE, request, request_id)

    async def wait_opened(self, case_id: str) -> None:
        """Return once the case's opening step is stored (at most the wait)."""
        then = "; it is stored once a worker can"
        await self._waiter.bounded(case_id, self._stored_opening(case_id), then)

    @property
    def records(self) -> sessionmaker[Session] | None:
        """The case database, when kesu was opened on it (duplicates, merges, groups)."""
        return None if self._registry is None else self._registry.sessions

    async def update_calendar(self, case_id: str, update: CalendarUpdate) -> EventResult:
        """Publish new calendar data to an open case; a case refuses the calendar it has."""
        return await self._update(case_id, CALENDAR_UPDATE, update, None)

    async def _update(
        self, case_id: str, name: str, request: BaseModel, update_id: str | None
    ) -> EventResult:
        handle = self._handle(case_id)
        update_id = update_id or uuid.uuid4().hex
        then = f"; it may still be applied: send it again with id {update_id!r}"
        try:
            result: EventResult = await self._waiter.bounded(
                case_id,
                handle.execute_update(name, request, id=update_id, result_type=EventResult),
                then,
            )
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError):
                message, kind = cause.message, refusal_kind_of(cause.type)
            else:
                message, kind = str(cause), RefusalKind.CONFLICT
            EVENTS_REFUSED.labels(kind.value).inc()
            raise KesuError(message, kind) from None
        except RPCError as error:
            raise self._rpc_problem(case_id, error) from None
        return result

    async def get_case(self, case_id: str, *, bounded: bool = True) -> CaseView:
        query = self._handle(case_id).query(CaseWorkflow.case)
        try:
            return await (self._waiter.bounded(case_id, query) if bounded else query)
        except RPCError as error:
            raise self._rpc_problem(case_id, error) from None
        except WorkflowQueryFailedError as error:  # not a case, or no worker could answer
            problem = f"case {case_id} cannot be read: {error.message}"
            raise KesuError(problem, RefusalKind.UNAVAILABLE) from None

    async def list_cases(
        self, where: CaseFilter | None = None, *, limit: int = 100
    ) -> list[CaseListing]:
        query = self._list_query(where or CaseFilter())
        try:
            return [listing(e) async for e in self._client.list_workflows(query, limit=limit)]
        except RPCError as error:
            raise _cannot_list(error) from None

    async def list_page(
        self,
        where: CaseFilter | None = None,
        *,
        page_size: int = 50,
        page_token: bytes | None = None,
    ) -> CasePage:
        """One page of cases; pass its ``next_page_token`` (with the same filters) for the next."""
        where = where or CaseFilter()
        filters = repr(where)
        pages = self._client.list_workflows(
            self._list_query(where),
            page_size=page_size,
            next_page_token=open_token(filters, page_token) if page_token else None,
        )
        try:
            await pages.fetch_next_page()
        except RPCError as error:
            raise _cannot_list(error) from None
        return CasePage(
            cases=[listing(execution) for execution in pages.current_page or []],
            next_page_token=seal_token(filters, pages.next_page_token),
        )

    def _list_query(self, where: CaseFilter) -> str:
        # Any stage of any version: old cases sit in stages a newer version renamed.
        process = where.process
        if process is not None:
            self.spec(process)
            specs = self.versions(process)
        else:
            specs = [spec for name in self.processes for spec in self.versions(name)]
        return list_query(specs, where)

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
                closed = f"case {case_id} is closed: it takes no more events"
                return KesuError(closed, RefusalKind.CONFLICT)
            return KesuError(f"no case {case_id!r}", RefusalKind.NOT_FOUND)
        if error.status == RPCStatusCode.INVALID_ARGUMENT:
            return KesuError(f"case {case_id!r}: {error.message}", RefusalKind.INVALID)
        return KesuError(f"case {case_id}: {error.message}", RefusalKind.UNAVAILABLE)


def _cannot_list(error: RPCError) -> KesuError:
    return KesuError(f"cannot list cases: {error.message}", RefusalKind.UNAVAILABLE)


def _check_texts(**texts: str | list[str]) -> None:
    """Names and ids go into the database too: one it cannot store is refused at the door."""
    for name, given in texts.items():
        for text in [given] if isinstance(given, str) else given:
            problem = text_problem(text)
            if problem is not None:
                raise KesuError(f"{name}: {problem}")


def _check_key(key: str) -> str:
    key = key.strip()
    _check_texts(key=key)
    if not key or len(key) > MAX_KEY_LENGTH or any(ch.isspace() or ch == "/" for ch in key):
        raise KesuError(
            f"a case key is 1-{MAX_KEY_LENGTH} characters without spaces or '/', got {key!r}"
        )
    return key
