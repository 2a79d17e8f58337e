"""Links between cases in SQL: who may be a duplicate of whom, what was merged into what, and
group complaints (many customers, one cause) with their handling plan.

``project_links`` runs inside ``store_step``'s transaction, so a link is stored if and only if
the step that made it is. The customer's identity is kept only as keyed hashes (HMAC-SHA256
under a key derived from each master key of the keyring, so a rotation keeps matching): never
in clear. Customer data with no keyring to hash under is not kept at all (fail closed), and
such a case is reported as not checked for duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from activities.inputs import StepRecord
from activities.keys import Keyring
from process.events import GROUPED_EVENT, MERGED_EVENT

from .database import Base, UTCDateTime

PLAIN_KEY_ID = "plain"
"""The hash of an identity that is not customer data, when no keyring is configured."""
_PURPOSE = b"kesu duplicate identity v1"


class CaseIdentityRow(Base):
    """A case's customer-and-category identity as a keyed hash, one row per master key."""

    __tablename__ = "kesu_case_identity"
    __table_args__ = (
        # Duplicates of a new case: the same process and hash, opened within the window.
        Index("ix_kesu_case_identity_match", "process", "match_hash", "opened_at"),
    )

    case_id: Mapped[str] = mapped_column(ForeignKey("kesu_case.case_id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    process: Mapped[str] = mapped_column(String(100))
    match_hash: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseMergeRow(Base):
    """A duplicate merged into its primary case (written with the duplicate's last step)."""

    __tablename__ = "kesu_case_merge"

    duplicate_id: Mapped[str] = mapped_column(ForeignKey("kesu_case.case_id"), primary_key=True)
    primary_id: Mapped[str] = mapped_column(String(200), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseGroupRow(Base):
    """A group complaint: many customers' cases with one cause and one handling plan."""

    __tablename__ = "kesu_case_group"

    group_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    process: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(Text)
    """The handling plan, for every case of the group (not customer data: no names here)."""
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseGroupMemberRow(Base):
    """A case in a group (written with the case's ``case.grouped`` step); one group a case."""

    __tablename__ = "kesu_case_group_member"

    case_id: Mapped[str] = mapped_column(ForeignKey("kesu_case.case_id"), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("kesu_case_group.group_id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


def identity_hashes(
    process: str, values: Sequence[Any], keyring: Keyring | None, pii: bool
) -> dict[str, str]:
    """Key id -> keyed hash of (process, identity values); empty when it may not be kept."""
    text = json.dumps([process, *values], ensure_ascii=False, sort_keys=True, default=str)
    message = text.encode("utf-8")
    if keyring is None:
        if pii:
            return {}  # fail closed: a plain hash of customer data can be guessed back
        return {PLAIN_KEY_ID: hashlib.sha256(message).hexdigest()}
    found = {}
    for key_id in keyring.ids:
        derived = hmac.new(keyring.key(key_id), _PURPOSE, hashlib.sha256).digest()
        found[key_id] = hmac.new(derived, message, hashlib.sha256).hexdigest()
    return found


def project_links(session: Session, step: StepRecord, keyring: Keyring | None) -> None:
    """The identity hashes, merge and group rows a (plain, unsealed) step implies."""
    merging = step.merging
    if merging is None:
        return
    if step.event == MERGED_EVENT:
        session.merge(
            CaseMergeRow(
                duplicate_id=step.case_id, primary_id=str(step.data["into"]), actor=step.actor,
                reason=step.data.get("reason"), merged_at=step.at,
            )
        )  # fmt: skip
    elif step.event == GROUPED_EVENT:
        session.merge(
            CaseGroupMemberRow(
                case_id=step.case_id, group_id=str(step.data["group"]), added_at=step.at
            )
        )
    names = [*merging.customer, *([merging.category] if merging.category else [])]
    if step.seq != 0 and not set(names) & set(step.data):
        return  # the identity is what it was
    values = [step.fields.get(name) for name in names]
    rows = list(
        session.scalars(select(CaseIdentityRow).where(CaseIdentityRow.case_id == step.case_id))
    )
    opened_at = rows[0].opened_at if rows else step.at  # the opening step's time
    for row in rows:
        session.delete(row)
    session.flush()
    if any(step.fields.get(name) is None for name in merging.customer):
        return  # no customer named: nothing to match
    pii = bool(set(names) & set(step.pii_fields))
    for key_id, digest in identity_hashes(step.process, values, keyring, pii).items():
        session.add(
            CaseIdentityRow(
                case_id=step.case_id, key_id=key_id, process=step.process, match_hash=digest,
                opened_at=opened_at,
            )
        )  # fmt: skip
