"""Records of every read of unmasked customer data: who, in which roles, which case, which
fields, through which door (``api``, ``cli``, ``codec``), when. Append-only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .database import Base, BigId, JSONType, UTCDateTime


class PiiAccessRow(Base):
    __tablename__ = "kesu_pii_access"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONType)
    fields: Mapped[list[str]] = mapped_column(JSONType)
    channel: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "actor": self.actor,
            "roles": list(self.roles),
            "fields": list(self.fields),
            "channel": self.channel,
            "at": self.at,
        }


def record_access(
    session: Session,
    case_id: str,
    actor: str,
    roles: Sequence[str],
    fields: Sequence[str],
    channel: str,
    at: datetime,
) -> None:
    session.add(
        PiiAccessRow(
            case_id=case_id,
            actor=actor,
            roles=list(roles),
            fields=list(fields),
            channel=channel,
            at=at,
        )
    )


def access_log(session: Session, case_id: str) -> list[PiiAccessRow]:
    query = select(PiiAccessRow).where(PiiAccessRow.case_id == case_id).order_by(PiiAccessRow.id)
    return list(session.scalars(query))
