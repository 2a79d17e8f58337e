"""What ``store_step`` derives from a step besides the audit row: case numbers, assignments,
deadline clocks, satisfaction results and responsibility attributions, each in its own table
so that reports and look-ups need not replay the audit trail.

Everything here runs inside ``store_step``'s transaction, after its "already stored?" check,
and every table is keyed by (case_id, seq) or (case_id, name): a retried step writes nothing
twice, and a step rolled back takes its derived rows (and its case number) with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from activities.inputs import StepRecord
from process.clocks import ClockState, ClockStatus
from process.events import UPGRADED_EVENT
from process.state import ASSIGNEE_FIELD

from .database import Base, BigId, UTCDateTime

NUMBER_DIGITS = 6


class CaseDigest(Protocol):
    """What the case row (``CaseRow``) keeps of its derived rows, for the overdue list and
    the report."""

    closed_at: datetime | None
    next_due_at: datetime | None
    next_due_clock: str | None
    next_due_breached: bool | None
    latest_csat: int | None
    latest_nps: int | None
    latest_responsibility: str | None


class CaseNumberRow(Base):
    """The last case number given per prefix and year."""

    __tablename__ = "kesu_case_number"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int]


class AssignmentRow(Base):
    """Each change of a case's responsible person (责任人): who, from whom, by whom, when."""

    __tablename__ = "kesu_assignment"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("kesu_case.case_id"))
    seq: Mapped[int]
    assignee: Mapped[str | None] = mapped_column(String(200))
    previous: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClockRow(Base):
    """The current state of one deadline clock of a case."""

    __tablename__ = "kesu_clock"
    __table_args__ = (
        # The overdue list (service.overdue) walks running clocks by due time; only running
        # clocks have one, so the index holds what is open, not every clock ever stopped.
        Index(
            "ix_kesu_clock_running_due",
            "due_at",
            "case_id",
            "name",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
        # The report finds the clock names in use by skipping through this (a few probes).
        Index("ix_kesu_clock_name", "name"),
    )

    case_id: Mapped[str] = mapped_column(ForeignKey("kesu_case.case_id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(50))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_seconds: Mapped[float]
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    met: Mapped[bool | None]
    """True/False once stopped in time or not; None while it can still go either way."""
    seq: Mapped[int]
    """The step that last changed it."""


class SatisfactionRow(Base):
    """A satisfaction answer (CSAT 1-5, NPS 0-10) a step brought."""

    __tablename__ = "kesu_satisfaction"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        # Each case's latest answers from the index alone (the report; index-only scans).
        Index("ix_kesu_satisfaction_case_id_seq_answers", "case_id", "seq", "csat", "nps"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("kesu_case.case_id"))
    seq: Mapped[int]
    csat: Mapped[int | None]
    nps: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ResponsibilityRow(Base):
    """责任认定: the cause a step attributed, signed off by the step's actor (the handler)."""

    __tablename__ = "kesu_responsibility"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        # Each case's latest attribution from the index alone (the report).
        Index("ix_kesu_responsibility_case_id_seq_party", "case_id", "seq", "responsibility"),
        # The attributions given, found by a skip through it (the report counts each).
        Index("ix_kesu_responsibility_responsibility", "responsibility"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("kesu_case.case_id"))
    seq: Mapped[int]
    responsibility: Mapped[str] = mapped_column(String(100))
    signed_off_by: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def allocate_case_number(session: Session, prefix: str, opened_at: datetime, zone: str) -> str:
    """``CP-2026-000123``: the next number of ``prefix`` in the year the case opened (in ``zone``).

    One atomic upsert: on PostgreSQL it locks the counter row until the transaction ends, so
    concurrent openings get distinct numbers; a rolled-back opening gives its number back.
    """
    year = opened_at.astimezone(ZoneInfo(zone)).year
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = CaseNumberRow.__table__
    insert = dialect.insert(table).values(prefix=prefix, year=year, last_number=1)
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.prefix, table.c.year],
        set_={"last_number": table.c.last_number + 1},
    ).returning(table.c.last_number)
    number = session.execute(upsert).scalar_one()
    return f"{prefix}-{year}-{number:0{NUMBER_DIGITS}d}"


def _given(name: str, before: dict[str, Any], step: StepRecord) -> Any:
    """The field's value if this step set it (even to the same value again), else None."""
    after = step.fields.get(name)
    if after is None or (name not in step.data and before.get(name) == after):
        return None
    return after


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def project_step(
    session: Session, before: dict[str, Any], step: StepRecord, case: CaseDigest
) -> None:
    """The derived rows of the newest step of a case, and ``case``'s copy of the latest ones;
    ``before`` are the fields it found."""
    assignee = step.fields.get(ASSIGNEE_FIELD)
    if assignee != before.get(ASSIGNEE_FIELD):
        session.add(
            AssignmentRow(
                case_id=step.case_id,
                seq=step.seq,
                assignee=assignee,
                previous=before.get(ASSIGNEE_FIELD),
                actor=step.actor,
                at=step.at,
            )
        )
    reporting = step.reporting
    csat = _as_int(_given(reporting.csat, before, step))
    nps = _as_int(_given(reporting.nps, before, step))
    if csat is not None:
        case.latest_csat = csat
    if nps is not None:
        case.latest_nps = nps
    if csat is not None or nps is not None:
        session.add(
            SatisfactionRow(
                case_id=step.case_id, seq=step.seq, csat=csat, nps=nps, actor=step.actor, at=step.at
            )
        )
    responsibility = _given(reporting.responsibility, before, step)
    if responsibility is not None:
        case.latest_responsibility = str(responsibility)
        session.add(
            ResponsibilityRow(
                case_id=step.case_id,
                seq=step.seq,
                responsibility=str(responsibility),
                signed_off_by=step.actor,
                role=step.role,
                at=step.at,
            )
        )


def _summary(clock: ClockState) -> dict[str, Any]:
    """What the audit trail keeps of a touched clock (not its whole explanation)."""
    return clock.model_dump(
        mode="json",
        include={"status", "target", "started_at", "paused_at", "paused_for", "due_at"}
        | {"stopped_at", "breached_at"},
    )


def _row_summary(row: ClockRow) -> dict[str, Any]:
    clock = ClockState(
        name=row.name, status=row.status, target=row.target, started_at=row.started_at,
        paused_at=row.paused_at, paused_for=timedelta(seconds=row.paused_seconds),
        due_at=row.due_at, stopped_at=row.stopped_at, breached_at=row.breached_at,
    )  # fmt: skip
    return _summary(clock)


def update_clocks(
    session: Session, step: StepRecord, case: CaseDigest
) -> dict[str, dict[str, Any]]:
    """Bring the case's clock rows, and ``case``'s next due clock, up to ``step``; returns the
    clocks it touched, summarised."""
    rows = {
        row.name: row
        for row in session.scalars(select(ClockRow).where(ClockRow.case_id == step.case_id))
    }
    touched: dict[str, dict[str, Any]] = {}
    added: list[ClockRow] = []  # rows new with this step, not yet in rows
    for name, clock in step.clocks.items():
        summary = _summary(clock)
        row = rows.get(name)
        if row is not None and _row_summary(row) == summary:
            continue
        if row is None:
            row = ClockRow(case_id=step.case_id, name=name)
            session.add(row)
            added.append(row)
        row.status, row.target = clock.status.value, clock.target
        row.started_at, row.paused_at = clock.started_at, clock.paused_at
        row.paused_seconds = clock.paused_for.total_seconds()
        row.due_at, row.stopped_at, row.breached_at = (
            clock.due_at,
            clock.stopped_at,
            clock.breached_at,
        )
        row.met = clock.met
        row.seq = step.seq
        if row.started_at is not None or name in rows:
            touched[name] = summary
    if step.event == UPGRADED_EVENT:
        touched |= _close_dropped(rows, step)
    every = [*rows.values(), *added] if case.closed_at is None else []  # closed: not overdue
    running = [row for row in every if row.due_at is not None]
    first = min(running, key=lambda row: (row.due_at, row.name)) if running else None
    case.next_due_at = first.due_at if first else None
    case.next_due_clock = first.name if first else None
    case.next_due_breached = first.breached_at is not None if first else None
    return touched


def _close_dropped(rows: dict[str, ClockRow], step: StepRecord) -> dict[str, dict[str, Any]]:
    """A clock the target version does not have stops with the upgrade (the step's notes say
    so): its row is closed at the step's time, kept for reports, and the audit row records it."""
    closed: dict[str, dict[str, Any]] = {}
    for name, row in rows.items():
        if name in step.clocks or row.status == ClockStatus.STOPPED.value:
            continue
        if row.paused_at is not None:
            row.paused_seconds += (step.at - row.paused_at).total_seconds()
        row.status, row.paused_at, row.due_at = ClockStatus.STOPPED.value, None, None
        if row.started_at is not None:
            row.stopped_at = step.at
            row.met = row.breached_at is None
        row.seq = step.seq
        closed[name] = _row_summary(row)
    return closed
