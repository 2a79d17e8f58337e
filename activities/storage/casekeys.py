"""Encryption at rest, per case: each case's customer data (its ``pii`` fields, wherever they are
stored: the case row, the audit trail, the outbox) is encrypted with the case's own data key
(AES-256-GCM), and that key is stored wrapped by a master key of the keyring.

Destroying a case's data key (``activities.destruction``) makes its customer data unreadable
everywhere it was ever copied: database backups and exports hold only ciphertext. Rewrapping
(``rewrap``) moves case keys to the keyring's newest master key after a rotation, a batch per
transaction, so it can be interrupted and run again.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from activities.inputs import StepRecord
from activities.keys import Keyring, seal, unseal

from .database import Base, UTCDateTime
from .sealed import SEALED_PREFIX, is_sealed, is_shredded, map_values


class CaseKeyRow(Base):
    """A case's data key, wrapped by the master key ``master_key_id``; gone once destroyed."""

    __tablename__ = "kesu_case_key"

    case_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    master_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseKeyDestroyed(ValueError):
    """The case's data was destroyed: its customer data can no longer be read."""


def _context(case_id: str) -> bytes:
    # A wrapped key or a sealed value copied onto another case does not open there.
    return case_id.encode("utf-8")


class CaseSealer:
    """Seals and opens one case's pii values with its data key, made on first use."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def case_key(self, session: Session, case_id: str, at: datetime | None = None) -> bytes:
        row = session.get(CaseKeyRow, case_id)
        if row is None:
            key = os.urandom(32)
            session.add(
                CaseKeyRow(
                    case_id=case_id,
                    master_key_id=self.keyring.primary_id,
                    wrapped=seal(self.keyring.primary, key, _context(case_id)),
                    created_at=at or datetime.now(UTC),
                )
            )
            session.flush()
            return key
        if row.wrapped is None or row.master_key_id is None:
            raise CaseKeyDestroyed(f"the data of case {case_id} was destroyed")
        return unseal(self.keyring.key(row.master_key_id), row.wrapped, _context(case_id))

    def seal_step(self, session: Session, step: StepRecord) -> StepRecord:
        """``step`` with its pii values sealed in fields, data and message params."""
        pii = set(step.pii_fields)
        if not pii:
            return step
        key = self.case_key(session, step.case_id, step.at)

        def change(name: str, value: Any) -> Any:
            if name not in pii or value is None or is_sealed(value):
                return value
            return seal_value(key, step.case_id, value)

        return step.model_copy(
            update={
                "fields": map_values(step.fields, change),
                "data": map_values(step.data, change),
                "messages": [
                    message.model_copy(update={"params": map_values(message.params, change)})
                    for message in step.messages
                ],
            }
        )

    def open_values(self, session: Session, case_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with sealed entries decrypted; a destroyed case's come back as None."""
        key: bytes | None = None

        def change(_name: str, value: Any) -> Any:
            nonlocal key
            if is_shredded(value):
                return None
            if not is_sealed(value):
                return value
            if key is None:
                try:
                    key = self.case_key(session, case_id)
                except CaseKeyDestroyed:
                    return None
            return open_value(key, case_id, value)

        return map_values(values, change)


def seal_value(key: bytes, case_id: str, value: Any) -> str:
    plain = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return SEALED_PREFIX + base64.b64encode(seal(key, plain, _context(case_id))).decode("ascii")


def open_value(key: bytes, case_id: str, text: str) -> Any:
    sealed = base64.b64decode(text.removeprefix(SEALED_PREFIX))
    return json.loads(unseal(key, sealed, _context(case_id)))


def rewrap(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    batch: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Wrap every case key with the keyring's primary key; how many were rewrapped.

    Each batch commits on its own: an interrupted run keeps its work, and the next run (or a
    concurrent one) carries on with what is left. ``progress(done, total)`` after each batch.
    """
    primary = keyring.primary_id
    pending = (CaseKeyRow.wrapped.is_not(None), CaseKeyRow.master_key_id != primary)
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(CaseKeyRow).where(*pending)) or 0
    done = 0
    while True:
        with sessions.begin() as session:
            query = select(CaseKeyRow).where(*pending).limit(batch).with_for_update()
            rows = list(session.scalars(query))
            for row in rows:
                assert row.wrapped is not None and row.master_key_id is not None
                context = _context(row.case_id)
                key = unseal(keyring.key(row.master_key_id), row.wrapped, context)
                row.wrapped = seal(keyring.primary, key, context)
                row.master_key_id = primary
        if not rows:
            return done
        done += len(rows)
        if progress is not None:
            progress(done, max(total, done))


def keys_by_master(session: Session) -> dict[str | None, int]:
    """How many live case keys each master key wraps."""
    query = (
        select(CaseKeyRow.master_key_id, func.count())
        .where(CaseKeyRow.wrapped.is_not(None))
        .group_by(CaseKeyRow.master_key_id)
    )
    return {key_id: count for key_id, count in session.execute(query).tuples()}
