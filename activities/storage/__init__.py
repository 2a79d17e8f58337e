"""kesu's records in SQL: tables, the migrations that make them, and the step activity.

``steps`` stores each step of a case once with its hash-chained audit row (``audit``) and its
outbox messages, in one transaction with the projections (case numbers, assignments, clocks,
satisfaction, responsibility); ``migrations`` brings a database to the newest schema.
Everything outside this package imports it from here.
"""

from sqlalchemy import MetaData

from .audit import GENESIS, HASHED_COLUMNS, AuditLink, ChainProblem, chain_hash, first_problem
from .database import Base, BigId, JSONType, UTCDateTime, make_engine, make_session_factory
from .projections import (
    AssignmentRow,
    CaseNumberRow,
    ClockRow,
    ResponsibilityRow,
    SatisfactionRow,
    allocate_case_number,
)
from .steps import (
    CaseEventRow,
    CaseRow,
    OutboxRow,
    OutboxStatus,
    StorageActivities,
    get_case,
    list_events,
    list_outbox,
    outbox_key,
    store_step,
)


def load_models() -> MetaData:
    """Every kesu table: importing this package has registered each on ``Base.metadata``."""
    return Base.metadata


__all__ = [
    "GENESIS",
    "HASHED_COLUMNS",
    "AssignmentRow",
    "AuditLink",
    "Base",
    "BigId",
    "CaseEventRow",
    "CaseNumberRow",
    "CaseRow",
    "ChainProblem",
    "ClockRow",
    "JSONType",
    "OutboxRow",
    "OutboxStatus",
    "ResponsibilityRow",
    "SatisfactionRow",
    "StorageActivities",
    "UTCDateTime",
    "allocate_case_number",
    "chain_hash",
    "first_problem",
    "get_case",
    "list_events",
    "list_outbox",
    "load_models",
    "make_engine",
    "make_session_factory",
    "outbox_key",
    "store_step",
]
