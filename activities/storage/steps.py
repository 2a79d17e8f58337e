"""Where cases live in SQL: the tables, the ``record_step`` activity and read helpers for the CLI.

A step is stored exactly once, keyed by (case_id, seq): the workflow retries ``record_step``
until it succeeds, so a retry after a commit whose reply was lost must change nothing. The
case row, the event row (sealed into the case's hash chain, see ``activities.audit``), the
derived rows (``activities.projections``) and the step's outbox messages are written in one
transaction, so a message is queued if and only if its step is stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from temporalio import activity

from activities.inputs import OutboxMessage, StepRecord, StepRecorded
from activities.lease import heartbeating
from process.state import ASSIGNEE_FIELD

from .audit import GENESIS, HASHED_COLUMNS, chain_hash
from .casekeys import CaseSealer
from .database import Base, BigId, JSONType, UTCDateTime, writer_gate
from .faults import storage_failure
from .links import project_links
from .projections import allocate_case_number, project_step, update_clocks

# Activity details (workflow id, attempt) are added when running inside an activity; outside
# one (tests, the CLI) this is a plain logger. Never log fields, event data or message params:
# they may hold customer data. Case id, seq, event names and stages are fine.
log = activity.LoggerAdapter(logging.getLogger("kesu.storage"), None)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    """Gave up after the configured number of attempts; needs an operator."""


OVERDUE_INDEXED = "next_due_at IS NOT NULL"
"""The rows ``ix_kesu_case_overdue`` holds (open cases with a running clock); a query must
state it to be served by it."""


class CaseRow(Base):
    """The current state of a case: a projection of its latest step."""

    __tablename__ = "kesu_case"
    __table_args__ = (
        # The overdue list (service.overdue): open cases by their next due time. Partial, so
        # closed cases and cases with no running clock (no next due time) take no room in it.
        Index(
            "ix_kesu_case_overdue",
            "next_due_at",
            "case_id",
            postgresql_include=["process"],
            postgresql_where=text(OVERDUE_INDEXED),
            sqlite_where=text(OVERDUE_INDEXED),
        ),
    )

    case_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    case_number: Mapped[str] = mapped_column(String(40), unique=True)
    """``CP-2026-000123``: for people; ``case_id`` stays the key."""
    process: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(128))
    stage: Mapped[str] = mapped_column(String(100))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Indexed for reports of a period (``report --since/--until``, by opening or closing).
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_seq: Mapped[int]
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    """The responsible person (``fields.assignee``), as a column: ``reassign`` looks it up."""
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The due time of the open case's running clock due first (None: none is running, or the
    case is closed), kept with the clock rows: the overdue list walks the cases by it, one
    index entry per case."""
    next_due_clock: Mapped[str | None] = mapped_column(String(100))
    """That clock's name (the first by name among clocks due at the same time)."""
    next_due_breached: Mapped[bool | None]
    """Has the worker recorded that clock's breach (None: no such clock)."""
    # Each the latest non-null one of the case's rows (kept with them, ``projections``): what
    # the report counts per case, read with the case instead of looked up in three tables.
    latest_csat: Mapped[int | None]
    latest_nps: Mapped[int | None]
    latest_responsibility: Mapped[str | None] = mapped_column(String(100))


class CaseEventRow(Base):
    """One step of a case, append-only: the case's audit trail, sealed by a hash chain."""

    __tablename__ = "kesu_case_event"
    __table_args__ = (
        # The idempotency key of record_step: a retried step hits this constraint.
        UniqueConstraint("case_id", "seq"),
        # Reports find the cases that entered a review stage or took a reopen event from
        # these alone (index-only), without reading every step.
        Index("ix_kesu_case_event_to_stage_case_id", "to_stage", "case_id"),
        Index("ix_kesu_case_event_event_case_id", "event", "case_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("kesu_case.case_id"))
    seq: Mapped[int]
    event: Mapped[str] = mapped_column(String(200))
    from_stage: Mapped[str | None] = mapped_column(String(100))
    to_stage: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The inputs the event carried."""
    notes: Mapped[list[str]] = mapped_column(JSONType)
    clocks: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The deadline clocks this step touched (started, paused, stopped, breached...)."""
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))

    def audit_content(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HASHED_COLUMNS}


class OutboxRow(Base):
    """A message waiting for (or done with) delivery; see ``activities.messaging``."""

    __tablename__ = "kesu_outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')",
            name="status",
        ),
        # The sweep looks for pending messages in id order; a case's delivery by case id.
        Index("ix_kesu_outbox_status_id", "status", "id"),
        Index("ix_kesu_outbox_case_id_id", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(200))
    """No foreign key: the alert about a case whose opening step SQL refused has no case row."""
    seq: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    """``{case_id}:{seq}:{index}``; handed to channels so that they can drop duplicates."""
    recipient: Mapped[str] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    content_hash: Mapped[str | None] = mapped_column(String(128))
    """The definition the step ran on: its templates render the message (None: older rows)."""
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set while a deliverer is sending; lets another take over if that one died mid-send."""


def outbox_key(case_id: str, seq: int, index: int) -> str:
    return f"{case_id}:{seq}:{index}"


def store_step(
    session: Session, step: StepRecord, sealer: CaseSealer | None = None
) -> StepRecorded:
    """Write ``step`` in ``session``'s transaction; the caller commits.

    Returns ``created=False`` without writing if the step is already stored. A concurrent
    duplicate that commits first makes the final flush raise ``IntegrityError``. With a
    ``sealer``, pii values are stored encrypted with the case's data key.
    """
    stored = _stored_event(session, step.case_id, step.seq)
    if stored is not None:
        _check_same_step(stored, step)
        return StepRecorded(created=False, messages_queued=0)
    plain, step = step, (step if sealer is None else sealer.seal_step(session, step))

    # FOR UPDATE (PostgreSQL) serialises writers of one case; SQLite ignores it and
    # serialises all writers at their first write instead.
    case = session.scalars(
        select(CaseRow).where(CaseRow.case_id == step.case_id).with_for_update()
    ).one_or_none()
    newest = case is None or step.seq >= case.last_seq
    before: dict[str, Any] = {} if case is None else dict(case.fields)
    if case is None:
        prefix = step.case_number_prefix or step.process.upper()
        number = allocate_case_number(session, prefix, step.at, step.time_zone)
        case = CaseRow(
            case_id=step.case_id, case_number=number, opened_at=step.at, last_seq=step.seq
        )
        _apply_step(case, step)
        session.add(case)
    elif newest:
        _apply_step(case, step)
    # else: an older step arrives late (not expected: the workflow saves in order); it joins
    # the history but must not roll the case's current state (or its projections) back.
    case.last_seq = max(case.last_seq, step.seq)
    session.flush()  # the case row first: events and messages refer to it

    touched: dict[str, Any] = {}
    if newest:
        project_step(session, before, plain, case)
        project_links(session, plain, None if sealer is None else sealer.keyring)
        touched = update_clocks(session, plain, case)
    session.add(_sealed_event(session, step, touched))
    session.add_all(
        OutboxRow(
            case_id=step.case_id,
            seq=step.seq,
            idempotency_key=outbox_key(step.case_id, step.seq, index),
            recipient=message.recipient,
            template=message.template,
            params=message.params,
            content_hash=step.content_hash,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            created_at=step.at,
        )
        for index, message in enumerate(step.messages)
    )
    session.flush()
    return StepRecorded(created=True, messages_queued=len(step.messages))


def _sealed_event(session: Session, step: StepRecord, clocks: dict[str, Any]) -> CaseEventRow:
    row = CaseEventRow(
        case_id=step.case_id, seq=step.seq, event=step.event, from_stage=step.from_stage,
        to_stage=step.to_stage, actor=step.actor, role=step.role, data=step.data,
        notes=step.notes, clocks=clocks, at=step.at,
    )  # fmt: skip
    # Chained to the step before. Were that one missing (steps stored out of order), chain to
    # the latest below: ``verify`` then reports the gap rather than this step hiding it.
    row.prev_hash = (
        session.scalars(
            select(CaseEventRow.row_hash)
            .where(CaseEventRow.case_id == step.case_id, CaseEventRow.seq < step.seq)
            .order_by(CaseEventRow.seq.desc())
            .limit(1)
        ).first()
        or GENESIS
    )
    # Hash what the database will give back: JSON values as they read after a round trip.
    content = json.loads(json.dumps(row.audit_content(), default=str))
    content["at"] = step.at
    row.row_hash = chain_hash(row.prev_hash, content)
    return row


def _apply_step(case: CaseRow, step: StepRecord) -> None:
    case.process = step.process
    case.version = step.version
    case.content_hash = step.content_hash
    case.stage = step.to_stage
    case.fields = step.fields
    assignee = step.fields.get(ASSIGNEE_FIELD)
    case.assignee = str(assignee) if assignee is not None else None
    case.updated_at = step.at
    case.closed_at = step.at if step.final else None


def _stored_event(session: Session, case_id: str, seq: int) -> CaseEventRow | None:
    return session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id, CaseEventRow.seq == seq)
    ).one_or_none()


def _check_same_step(stored: CaseEventRow, step: StepRecord) -> None:
    # A retry carries the same step. A different one under the same key means two workflows
    # used one case id (or a non-deterministic workflow): keep the stored history, but say so.
    if (stored.event, stored.to_stage) != (step.event, step.to_stage):
        log.warning(
            "case %s step %d already stored as %s -> %s; ignoring a different %s -> %s",
            step.case_id,
            step.seq,
            stored.event,
            stored.to_stage,
            step.event,
            step.to_stage,
        )


HEARTBEAT_EVERY = 0.5
"""Seconds between ``record_step``'s heartbeats: well inside the workflow's heartbeat timeout."""


class StorageActivities:
    """The storage activities, bound to a session factory the worker provides.

    ``events`` derives extra messages from each step (``activities.events.domain_events``);
    they are queued after the step's own, in its transaction. ``stored`` hears of each step
    once, when it is first stored (metrics), never of a retry.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        events: Callable[[StepRecord], list[OutboxMessage]] | None = None,
        stored: Callable[[StepRecord], None] | None = None,
        sealer: CaseSealer | None = None,
        opened: Callable[[Session, StepRecord], int] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._events = events
        self._stored = stored
        self._sealer = sealer
        self._opened = opened
        """Hears of each opening step in its transaction (early warnings, ``.warnings``) and
        says how many messages it queued."""
        self._writing = writer_gate(session_factory)
        """Taken before the transaction begins and released after it commits (see
        ``writer_gate``): one step at a time on SQLite."""

    @activity.defn(name="record_step")
    def record_step(self, step: StepRecord) -> StepRecorded:
        """Store one step of a case with its outbox messages; idempotent per (case_id, seq)."""
        try:
            with heartbeating(HEARTBEAT_EVERY):
                return self._record_step(step)
        except Exception as error:
            failure = storage_failure(error, f"case {step.case_id} step {step.seq}")
            log.warning("%s", failure.message)
            # Not chained: the driver's error carries the row's values (customer data).
            raise failure from None

    def _record_step(self, step: StepRecord) -> StepRecorded:
        if self._events is not None:
            step = step.model_copy(update={"messages": [*step.messages, *self._events(step)]})
        try:
            with self._writing, self._sessions.begin() as session:
                result = store_step(session, step, self._sealer)
                if result.created and step.seq == 0 and self._opened is not None:
                    queued = result.messages_queued + self._opened(session, step)
                    result = StepRecorded(created=True, messages_queued=queued)
        except IntegrityError:
            # Either a concurrent duplicate won the race (then the step is stored: done) or
            # something else is wrong (then re-raise, and the activity is retried).
            with self._sessions() as session:
                if _stored_event(session, step.case_id, step.seq) is None:
                    raise
            log.info(
                "case %s step %d stored concurrently by another attempt", step.case_id, step.seq
            )
            return StepRecorded(created=False, messages_queued=0)
        if result.created:
            log.info(
                "case %s step %d stored: %s %s -> %s, %d message(s) queued",
                step.case_id,
                step.seq,
                step.event,
                step.from_stage,
                step.to_stage,
                result.messages_queued,
                extra={
                    "case_id": step.case_id,
                    "case_process": step.process,
                    "case_event": step.event,
                    "case_stage": step.to_stage,
                },
            )
            if self._stored is not None:
                self._stored(step)
        else:
            log.info("case %s step %d already stored; nothing to do", step.case_id, step.seq)
        return result


def get_case(session: Session, case_id: str) -> CaseRow | None:
    return session.get(CaseRow, case_id)


def list_events(session: Session, case_id: str) -> list[CaseEventRow]:
    query = select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.seq)
    return list(session.scalars(query))


def list_outbox(session: Session, case_id: str) -> list[OutboxRow]:
    query = select(OutboxRow).where(OutboxRow.case_id == case_id).order_by(OutboxRow.id)
    return list(session.scalars(query))
