"""Case numbers (``CP-2026-000123``) beside case ids, for callers that only know one of them.

The worker gives each case its number when it stores the opening step; until then a case has
no number (None). A reference that is neither a known number nor a stored id is passed on
as an id: the workflow is the authority on whether the case exists.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import CaseRow, database_problem


class CaseNumbers:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def resolve(self, reference: str) -> tuple[str, str | None]:
        """(case id, case number) of an id or a number."""
        query = select(CaseRow.case_id, CaseRow.case_number).where(
            or_(CaseRow.case_id == reference, CaseRow.case_number == reference)
        )
        try:
            with self._sessions() as session:
                row = session.execute(query).first()
        except SQLAlchemyError:
            return reference, None  # the records are down: ids still work, numbers wait
        return (row.case_id, row.case_number) if row is not None else (reference, None)

    def numbers(self, case_ids: Iterable[str]) -> dict[str, str]:
        wanted = list(case_ids)
        if not wanted:
            return {}
        query = select(CaseRow.case_id, CaseRow.case_number).where(CaseRow.case_id.in_(wanted))
        try:
            with self._sessions() as session:
                return {row.case_id: row.case_number for row in session.execute(query)}
        except SQLAlchemyError:
            return {}

    def problem(self) -> str | None:
        """None while the records database answers with kesu's tables, else what is wrong."""
        problem = database_problem(self._sessions)
        return None if problem is None else f"the records database does not answer ({problem})"
