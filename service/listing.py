"""Listing cases through Temporal's visibility store: the query and one row per case.

Every filter value is checked against the definitions before it goes into a query, so a typo
is a clear refusal ("unknown stage 'handlng'") rather than an empty list.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.client import WorkflowExecution, WorkflowExecutionStatus

from process.compiler import CompiledSpec
from workflows import search
from workflows.case import WORKFLOW_NAME

from .refusals import KesuError


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
    provisional: bool = False
    """A due time of the case is provisional (past the end of a calendar)."""


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a listing shows: the one set of filters the CLI, the client and the API use."""

    process: str | None = None
    stage: str | None = None
    priority: str | None = None
    overdue: bool = False
    """Breached, or a deadline already past."""
    include_finished: bool = False
    opened_from: datetime | None = None
    """Cases opened at or after this moment."""
    opened_until: datetime | None = None
    """Cases opened before this moment."""
    case_ids: tuple[str, ...] | None = None
    """Only these cases (e.g. those of one assignee, found in the records)."""
    task_queue: str | None = None
    """Only cases on this task queue (those of one installation, when a namespace is shared)."""


@dataclass(frozen=True)
class CasePage:
    cases: list[CaseListing]
    next_page_token: bytes | None
    """None on the last page."""


def list_query(specs: list[CompiledSpec], where: CaseFilter) -> str:
    """A visibility query over cases of ``specs`` (all of them, or the one ``where.process``)."""
    clauses = [f"WorkflowType = '{WORKFLOW_NAME}'"]
    if where.process is not None:
        clauses.append(f"{search.PROCESS.name} = {_quoted(where.process)}")
    if where.stage is not None:
        stages = {name for spec in specs for name in spec.definition.stages}
        _check_known("stage", where.stage, stages)
        clauses.append(f"{search.STAGE.name} = {_quoted(where.stage)}")
    if where.priority is not None:
        _check_known("priority", where.priority, _priorities(specs))
        clauses.append(f"{search.PRIORITY.name} = {_quoted(where.priority)}")
    if not where.include_finished:
        clauses.append("ExecutionStatus = 'Running'")
    if where.task_queue is not None:
        clauses.append(f"TaskQueue = {_quoted(where.task_queue)}")
    if where.case_ids is not None:
        listed = ", ".join(_quoted(case_id) for case_id in where.case_ids)
        clauses.append(f"WorkflowId IN ({listed})" if listed else "WorkflowId = ''")
    if where.opened_from is not None:
        clauses.append(f"StartTime >= {_quoted(where.opened_from.isoformat())}")
    if where.opened_until is not None:
        clauses.append(f"StartTime < {_quoted(where.opened_until.isoformat())}")
    if where.overdue:
        now = datetime.now(UTC).isoformat()
        clauses.append(
            f"({search.BREACHED.name} = true OR {search.NEXT_DEADLINE.name} < {_quoted(now)})"
        )
    return " AND ".join(clauses)


_CHECK_BYTES = 8


def seal_token(filters: str, token: bytes | None) -> bytes | None:
    """Temporal's page token prefixed with a check of the filters it was given for.

    A token typed wrong, or sent with other filters, is then refused at once by ``open_token``
    rather than sent to Temporal, which answers a bad token with a server error after retries.
    """
    return _check(filters, token) + token if token else None


def open_token(filters: str, sealed: bytes) -> bytes:
    check, token = sealed[:_CHECK_BYTES], sealed[_CHECK_BYTES:]
    if not token or not hmac.compare_digest(check, _check(filters, token)):
        raise KesuError("the page token is not one this listing gave (with these filters)")
    return token


def _check(filters: str, token: bytes) -> bytes:
    return hashlib.sha256(filters.encode("utf-8") + b"\0" + token).digest()[:_CHECK_BYTES]


def listing(execution: WorkflowExecution) -> CaseListing:
    attributes = execution.typed_search_attributes
    return CaseListing(
        case_id=execution.id,
        process=attributes.get(search.PROCESS),
        stage=attributes.get(search.STAGE),
        priority=attributes.get(search.PRIORITY),
        next_deadline=attributes.get(search.NEXT_DEADLINE),
        breached=bool(attributes.get(search.BREACHED)),
        running=execution.status == WorkflowExecutionStatus.RUNNING,
        provisional=bool(attributes.get(search.PROVISIONAL)),
        opened_at=execution.start_time,
    )


def _priorities(specs: list[CompiledSpec]) -> set[str] | None:
    """The priority values the processes declare; None when one leaves them open (text)."""
    values: set[str] = set()
    for spec in specs:
        name = spec.definition.priority_field
        field = spec.definition.fields.get(name) if name else None
        if field is None:
            continue
        if field.values is None:
            return None
        values.update(field.values)
    return values


def _check_known(what: str, value: str, known: set[str] | None) -> None:
    if known is not None and value not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise KesuError(f"unknown {what} {value!r} (known: {listed})")


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
