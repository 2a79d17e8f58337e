"""Approved destruction of a case's customer data (crypto-shredding).

Two steps by two people: a request, then an approval by someone else. Approving destroys the
case's data key (every copy of its pii values, in this database, its backups and exports,
becomes unreadable), replaces the encrypted values in the case row, the audit trail and the
outbox by their shredded marker, and appends a ``case.destroyed`` step to the case's audit
chain (which still verifies: it seals encrypted values by digest). Stages, times, deadlines,
category, team and the other non-pii facts stay for reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from activities.inputs import StepRecord
from process.access import needs_role
from process.refusals import RefusalKind

from .casekeys import CaseKeyRow
from .database import Base, UTCDateTime
from .links import CaseIdentityRow
from .sealed import is_sealed, map_values, shredded
from .steps import CaseEventRow, CaseRow, OutboxRow, store_step

DESTROYED_EVENT = "case.destroyed"
METHOD = "crypto-shredding: case data key destroyed, encrypted pii values cleared"


class DestructionError(ValueError):
    """A destruction request or approval that cannot be done; the message says why and
    ``kind`` what sort of refusal it is."""

    def __init__(self, message: str, kind: RefusalKind = RefusalKind.CONFLICT) -> None:
        super().__init__(message)
        self.kind = kind


class DestructionRow(Base):
    __tablename__ = "kesu_destruction"

    case_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_role: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    history_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _role(
    case_id: str, actor: str, roles: Sequence[str], allowed: Sequence[str], doing: str
) -> str:
    for role in roles:
        if role in allowed:
            return role
    raise DestructionError(
        f"{doing} the destruction of case {case_id}: {needs_role(allowed, actor, roles)}",
        RefusalKind.FORBIDDEN,
    )


def _closed_case(session: Session, case_id: str) -> CaseRow:
    case = session.scalars(
        select(CaseRow).where(CaseRow.case_id == case_id).with_for_update()
    ).one_or_none()
    if case is None:
        raise DestructionError(f"no case {case_id}", RefusalKind.NOT_FOUND)
    if case.closed_at is None:
        raise DestructionError(f"case {case_id} is still open: only closed cases are destroyed")
    return case


def request_destruction(
    session: Session,
    case_id: str,
    actor: str,
    roles: Sequence[str],
    allowed: Sequence[str],
    at: datetime,
    reason: str | None = None,
) -> DestructionRow:
    """Ask for the destruction of a closed case's customer data; another person approves."""
    role = _role(case_id, actor, roles, allowed, "requesting")
    _closed_case(session, case_id)
    existing = session.get(DestructionRow, case_id)
    if existing is not None:
        state = "destroyed" if existing.approved_at else "requested"
        raise DestructionError(
            f"case {case_id}: destruction already {state} (by {existing.requested_by})"
        )
    row = DestructionRow(
        case_id=case_id, requested_by=actor, requested_role=role, reason=reason, requested_at=at
    )
    session.add(row)
    session.flush()
    return row


def approve_destruction(
    session: Session,
    case_id: str,
    actor: str,
    roles: Sequence[str],
    allowed: Sequence[str],
    at: datetime,
) -> DestructionRow:
    """Approve a pending request: shred the case's data and record it in its audit chain."""
    role = _role(case_id, actor, roles, allowed, "approving")
    case = _closed_case(session, case_id)
    row = session.get(DestructionRow, case_id, with_for_update=True)
    if row is None:
        raise DestructionError(f"case {case_id}: no destruction was requested")
    if row.approved_at is not None:
        raise DestructionError(f"case {case_id}: already destroyed (approved by {row.approved_by})")
    if row.requested_by == actor:
        raise DestructionError(
            f"case {case_id}: {actor} requested the destruction and cannot also approve it; "
            "another person must"
        )
    row.approved_by, row.approved_at = actor, at
    _shred(session, case, at)
    _append_record(session, case, row, role, at)
    return row


def _shred(session: Session, case: CaseRow, at: datetime) -> None:
    key = session.get(CaseKeyRow, case.case_id)
    if key is not None:
        key.wrapped, key.master_key_id, key.destroyed_at = None, None, at

    def clear(_name: str, value: Any) -> Any:
        return shredded(value) if is_sealed(value) else value

    case.fields = map_values(case.fields, clear)
    events = select(CaseEventRow).where(CaseEventRow.case_id == case.case_id)
    for event in session.scalars(events):
        event.data = map_values(event.data, clear)
    for message in session.scalars(select(OutboxRow).where(OutboxRow.case_id == case.case_id)):
        message.params = map_values(message.params, clear)
    # The keyed hash of the customer outlives the case key: it goes with the data.
    session.execute(delete(CaseIdentityRow).where(CaseIdentityRow.case_id == case.case_id))


def _append_record(
    session: Session, case: CaseRow, row: DestructionRow, role: str, at: datetime
) -> None:
    closed_at = case.closed_at
    notes = [
        f"method: {METHOD}",
        f"requested by {row.requested_by} ({row.requested_role}) at {row.requested_at.isoformat()}",
        f"approved by {row.approved_by} ({role}) at {at.isoformat()}",
    ]
    if row.reason:
        notes.append(f"reason: {row.reason}")
    step = StepRecord(
        case_id=case.case_id, seq=case.last_seq + 1, process=case.process,
        version=case.version, content_hash=case.content_hash, event=DESTROYED_EVENT,
        from_stage=case.stage, to_stage=case.stage, actor=row.approved_by or "", role=role,
        fields=dict(case.fields), at=at, final=True, notes=notes,
    )  # fmt: skip
    store_step(session, step)
    case.closed_at = closed_at  # the retention facts keep the day the case closed


def destruction(session: Session, case_id: str) -> DestructionRow | None:
    return session.get(DestructionRow, case_id)
