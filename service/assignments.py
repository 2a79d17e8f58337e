"""Which cases a person is responsible for (责任人), from the stored records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import CaseRow

MOST_ASSIGNED = 500
"""A listing by assignee names at most this many cases (a person's workload, not an export)."""


def cases_assigned_to(
    sessions: sessionmaker[Session], assignee: str, *, include_closed: bool = False
) -> list[str] | None:
    """Ids of ``assignee``'s cases, most recently opened first; None when the records are down."""
    query = select(CaseRow.case_id).where(CaseRow.assignee == assignee)
    if not include_closed:
        query = query.where(CaseRow.closed_at.is_(None))
    query = query.order_by(CaseRow.opened_at.desc()).limit(MOST_ASSIGNED)
    try:
        with sessions() as session:
            return list(session.scalars(query))
    except SQLAlchemyError:
        return None
