"""Early warnings (投诉预防) in SQL: each case counted once per rule, each warning raised once.

When a case's opening step is stored, ``raise_warnings`` counts it for every rule it matches
(``process.warnings``) in ``kesu_warning_case``, counts the cases of the same rule, value and
window there (an index-only count), and when they reach the rule's ``at_least`` records the
warning in ``kesu_early_warning`` and queues its messages in the outbox: all in the step's
transaction. A window's warning is unique in SQL, so it is never raised twice; two openings
racing for the same warning make one transaction fail and retry, and the retry sees it raised.
A count that a race left one short is caught by the next case, since ``at_least`` is a floor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from activities.inputs import StepRecord
from process.warnings import WarningRule, WarningRules

from .database import Base, BigId, JSONType, UTCDateTime
from .steps import OutboxRow, OutboxStatus

KEY_LENGTH = 200


class WarningCaseRow(Base):
    """A case counted for a rule: under which value and in which window."""

    __tablename__ = "kesu_warning_case"
    __table_args__ = (
        # The count of a rule, value and window reads this index alone.
        Index("ix_kesu_warning_case_rule_key_window", "rule", "key", "window_start"),
    )

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EarlyWarningRow(Base):
    """A warning raised: at most one per rule, value and window."""

    __tablename__ = "kesu_early_warning"
    __table_args__ = (UniqueConstraint("rule", "key", "window_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int]
    """Cases counted when it was raised (the rule's ``at_least`` or, after a race, more)."""
    case_id: Mapped[str] = mapped_column(String(200))
    """The case whose opening raised it."""
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recipients: Mapped[list[str]] = mapped_column(JSONType)


def warning_key(rule: str, warning_id: int, index: int) -> str:
    """The outbox key of a warning's message to its ``index``-th recipient."""
    return f"warning:{rule}:{warning_id}:{index}"


def count_in_window(session: Session, rule: str, key: str, window_start: datetime) -> int:
    query = select(func.count()).where(
        WarningCaseRow.rule == rule,
        WarningCaseRow.key == key,
        WarningCaseRow.window_start == window_start,
    )
    return int(session.scalar(query) or 0)


def _raised(session: Session, rule: str, key: str, window_start: datetime) -> bool:
    query = select(EarlyWarningRow.id).where(
        EarlyWarningRow.rule == rule,
        EarlyWarningRow.key == key,
        EarlyWarningRow.window_start == window_start,
    )
    return session.scalar(query) is not None


def _params(name: str, rule: WarningRule, row: EarlyWarningRow, step: StepRecord) -> dict[str, Any]:
    """What the message says: the rule, the value, the window, the count; no customer data."""
    return {
        "type": "early_warning",
        "case_id": step.case_id,
        "process": step.process,
        "fields": {rule.count_by: row.key},
        "warning": {
            "rule": name,
            "title": rule.title or name,
            "count_by": rule.count_by,
            "key": row.key,
            "count": row.count,
            "at_least": rule.at_least,
            "window": rule.window,
            "window_start": row.window_start.isoformat(),
            "window_end": row.window_end.isoformat(),
        },
    }


def raise_warnings(session: Session, rules: WarningRules, step: StepRecord) -> int:
    """Count the newly opened case of ``step`` and raise what it tips over; in the caller's
    transaction. Returns the number of messages queued."""
    queued = 0
    for name, rule, key in rules.matching(step.process, step.fields):
        key = key[:KEY_LENGTH]
        start, end = rule.window_of(step.at)
        session.add(
            WarningCaseRow(
                rule=name, case_id=step.case_id, key=key, window_start=start, opened_at=step.at
            )
        )
        session.flush()
        count = count_in_window(session, name, key, start)
        if count < rule.at_least or _raised(session, name, key, start):
            continue
        row = EarlyWarningRow(
            rule=name, key=key, window_start=start, window_end=end, count=count,
            case_id=step.case_id, raised_at=step.at, recipients=list(rule.notify),
        )  # fmt: skip
        session.add(row)
        session.flush()
        params = _params(name, rule, row, step)
        session.add_all(
            OutboxRow(
                case_id=step.case_id,
                seq=step.seq,
                idempotency_key=warning_key(name, row.id, i),
                recipient=recipient,
                template=rule.template,
                params=params,
                content_hash=step.content_hash,
                status=OutboxStatus.PENDING.value,
                attempts=0,
                created_at=step.at,
            )
            for i, recipient in enumerate(rule.notify)
        )
        queued += len(rule.notify)
    session.flush()
    return queued


class EarlyWarnings:
    """``StorageActivities``' hook on opening steps: raise the rules' warnings."""

    def __init__(self, rules: WarningRules) -> None:
        self.rules = rules

    def __call__(self, session: Session, step: StepRecord) -> int:
        return raise_warnings(session, self.rules, step)


def list_warnings(session: Session, limit: int = 100) -> list[EarlyWarningRow]:
    """The warnings raised, newest first."""
    query = select(EarlyWarningRow).order_by(EarlyWarningRow.raised_at.desc(), EarlyWarningRow.id)
    return list(session.scalars(query.limit(limit)))
