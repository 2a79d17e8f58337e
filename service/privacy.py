"""Customer data protection operations, for every entry point: records of unmasked reads,
retention, approved destruction (with the case's Temporal history), and key rotation.

The database and the Temporal client are handed in; nothing here reads settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.keys import Keyring
from activities.storage import (
    CaseRow,
    DestructionError,
    DestructionRow,
    PiiAccessRow,
    access_log,
    approve_destruction,
    case_definition,
    record_access,
    request_destruction,
    rewrap,
    scrub,
)
from process.compiler import CompiledSpec
from process.refusals import RefusalKind

from .refusals import KesuError

__all__ = ["NO_CASE", "DueCase", "Privacy", "retention_roles"]

DEFAULT_ROLES = ("data_officer",)
NO_CASE = "-"
"""The access records' case for codec decodes whose payloads name no case
(``starter.py access-log -``)."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DueCase:
    case_id: str
    case_number: str
    process: str
    closed_at: datetime
    due_at: datetime


def retention_roles(spec: CompiledSpec | None) -> Sequence[str]:
    """Who may request and approve destruction of the process's cases."""
    retention = spec.definition.retention if spec is not None else None
    return retention.roles if retention is not None else DEFAULT_ROLES


class Privacy:
    """The operations on one database (and, for destruction, one Temporal namespace)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        specs: Mapping[str, CompiledSpec],
        client: Client | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sessions = sessions
        self._specs = specs
        self._client = client
        self._clock = clock

    def record_unmasked_read(
        self, case_id: str, actor: str, roles: Sequence[str], fields: Sequence[str], channel: str
    ) -> None:
        """Record that ``actor`` read ``fields`` (customer data) of a case unmasked."""
        if not fields:
            return
        with self._sessions.begin() as session:
            record_access(session, case_id, actor, roles, fields, channel, self._clock())

    def record_decode(
        self,
        actor: str,
        roles: Sequence[str],
        cases: Sequence[str],
        payloads: int,
        channel: str,
    ) -> None:
        """Record a codec decode call: one record per case its payloads name, or one under
        ``NO_CASE`` when they name none (a call does not say which workflow it is for)."""
        what = [f"{payloads} payload{'' if payloads == 1 else 's'} decoded"]
        with self._sessions.begin() as session:
            for case_id in cases or [NO_CASE]:
                record_access(session, case_id, actor, roles, what, channel, self._clock())

    def access_log(self, case_id: str) -> list[PiiAccessRow]:
        with self._sessions() as session:
            return access_log(session, case_id)

    def retention_due(self, process: str | None = None) -> list[DueCase]:
        """Closed cases past their definition's retention whose data is not destroyed yet."""
        now = self._clock()
        destroyed = select(DestructionRow.case_id).where(DestructionRow.approved_at.is_not(None))
        query = (
            select(CaseRow)
            .where(CaseRow.closed_at.is_not(None), CaseRow.case_id.not_in(destroyed))
            .order_by(CaseRow.closed_at)
        )
        if process is not None:
            query = query.where(CaseRow.process == process)
        due: list[DueCase] = []
        with self._sessions() as session:
            for case in session.scalars(query):
                spec = self._case_spec(session, case)
                retention = spec.definition.retention if spec is not None else None
                if retention is None or case.closed_at is None:
                    continue
                at = retention.due(case.closed_at)
                if at <= now:
                    due.append(
                        DueCase(case.case_id, case.case_number, case.process, case.closed_at, at)
                    )
        return due

    def _case_spec(self, session: Session, case: CaseRow) -> CompiledSpec | None:
        """The version the case ran on (its retention, its roles), never another version's:
        from the registry, else the given spec of its process if that is the same content."""
        spec = self._specs.get(case.process)
        if spec is not None and spec.content_hash == case.content_hash:
            return spec
        return case_definition(session, case.case_id)

    def _roles(self, session: Session, case_id: str) -> Sequence[str]:
        case = session.get(CaseRow, case_id)
        if case is None:
            return DEFAULT_ROLES  # refused as unknown by the destruction itself
        spec = self._case_spec(session, case)
        if spec is None:
            raise KesuError(
                f"case {case_id} runs on definition {case.content_hash[:12]}, which is not "
                "published: who may destroy its data cannot be established",
                RefusalKind.CONFLICT,
            )
        return retention_roles(spec)

    def officer_roles(self, case_id: str) -> Sequence[str]:
        """Who may read the case's access records: its version's retention roles."""
        with self._sessions() as session:
            return self._roles(session, case_id)

    def request(
        self, case_id: str, actor: str, roles: Sequence[str], reason: str | None = None
    ) -> DestructionRow:
        try:
            with self._sessions.begin() as session:
                allowed = self._roles(session, case_id)
                return request_destruction(
                    session, case_id, actor, roles, allowed, self._clock(), reason
                )
        except DestructionError as error:
            raise _refusal(error) from None

    async def approve(self, case_id: str, actor: str, roles: Sequence[str]) -> DestructionRow:
        """Destroy the case's data, then delete its Temporal history (retried if run again)."""
        await self._require_finished(case_id)
        try:
            with self._sessions.begin() as session:
                allowed = self._roles(session, case_id)
                row = approve_destruction(session, case_id, actor, roles, allowed, self._clock())
        except DestructionError as error:
            existing = self.destruction(case_id)
            if existing is None or existing.approved_at is None or existing.history_deleted_at:
                raise _refusal(error) from None
            row = existing  # approved before, but its history was not deleted: finish that
        scrub(self._sessions)
        await self._delete_history(case_id)
        with self._sessions.begin() as session:
            stored = session.get(DestructionRow, case_id)
            assert stored is not None
            stored.history_deleted_at = self._clock()
            row = stored
        return row

    def destruction(self, case_id: str) -> DestructionRow | None:
        with self._sessions() as session:
            return session.get(DestructionRow, case_id)

    async def _require_finished(self, case_id: str) -> None:
        if self._client is None:
            return
        try:
            described = await self._client.get_workflow_handle(case_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return  # its history is gone already
            raise KesuError(f"Temporal: {error.message}", RefusalKind.UNAVAILABLE) from None
        if described.status == WorkflowExecutionStatus.RUNNING:
            raise KesuError(
                f"case {case_id} is still running: only closed cases are destroyed",
                RefusalKind.CONFLICT,
            )

    async def _delete_history(self, case_id: str) -> None:
        if self._client is None:
            return
        request = DeleteWorkflowExecutionRequest(
            namespace=self._client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=case_id),
        )
        try:
            await self._client.workflow_service.delete_workflow_execution(request)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise KesuError(
                    f"case {case_id}: data destroyed, but its Temporal history could not be "
                    f"deleted ({error.message}); approve again to retry",
                    RefusalKind.UNAVAILABLE,
                ) from None


def _refusal(error: DestructionError) -> KesuError:
    return KesuError(str(error), error.kind)


def rotate_and_rewrap(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rewrap every case key with the keyring's primary key (resumable); how many moved."""
    return rewrap(sessions, keyring, progress=progress)
