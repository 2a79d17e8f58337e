"""Whether the records database can be used: the one check behind ``/healthz``, ``/readyz``,
the worker's health server and the API's "database unreachable" answers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .faults import describe_failure
from .steps import CaseRow


def database_problem(sessions: sessionmaker[Session]) -> str | None:
    """None while the database answers with kesu's tables; else why not: the error's class
    and the first line of the driver's message, never a statement's values."""
    try:
        with sessions() as session:
            session.execute(select(CaseRow.case_id).limit(1))
    except SQLAlchemyError as error:
        return describe_failure(error)
    return None
