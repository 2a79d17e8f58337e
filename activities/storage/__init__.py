"""kesu's records in SQL: tables, the migrations that make them, and the step activity.

``steps`` stores each step of a case once with its hash-chained audit row (``audit``) and its
outbox messages, in one transaction with the projections (case numbers, assignments, clocks,
satisfaction, responsibility); ``migrations`` brings a database to the newest schema.
Everything outside this package imports it from here.
"""

from sqlalchemy import MetaData

from .access import PiiAccessRow, access_log, record_access
from .audit import GENESIS, HASHED_COLUMNS, AuditLink, ChainProblem, chain_hash, first_problem
from .casekeys import CaseKeyDestroyed, CaseKeyRow, CaseSealer, keys_by_master, rewrap
from .database import (
    Base,
    BigId,
    JSONType,
    UTCDateTime,
    make_engine,
    make_session_factory,
    scrub,
)
from .destruction import (
    DESTROYED_EVENT,
    DestructionError,
    DestructionRow,
    approve_destruction,
    request_destruction,
)
from .faults import describe_failure, is_data_fault, storage_failure
from .link_queries import Candidate, groups_of, has_identity, merge_links, possible_duplicates
from .links import CaseGroupMemberRow, CaseGroupRow, CaseIdentityRow, CaseMergeRow
from .probe import database_problem
from .projections import (
    AssignmentRow,
    CaseNumberRow,
    ClockRow,
    ResponsibilityRow,
    SatisfactionRow,
    allocate_case_number,
)
from .registry import (
    DefinitionRow,
    OpenCase,
    Publication,
    Published,
    PublishRefused,
    TemplateRow,
    VersionInfo,
    case_definition,
    load_specs,
    open_cases_by_stage,
    open_cases_on,
    publish,
    published_hashes,
    stored_case_ids,
    version_spec,
    version_templates,
    versions,
)
from .sealed import holds_sealed, is_sealed, is_shredded
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
from .warnings import EarlyWarningRow, EarlyWarnings, WarningCaseRow, list_warnings


def load_models() -> MetaData:
    """Every kesu table: importing this package has registered each on ``Base.metadata``."""
    return Base.metadata


__all__ = [
    "DESTROYED_EVENT",
    "GENESIS",
    "HASHED_COLUMNS",
    "AssignmentRow",
    "AuditLink",
    "Base",
    "BigId",
    "Candidate",
    "CaseEventRow",
    "CaseGroupMemberRow",
    "CaseGroupRow",
    "CaseIdentityRow",
    "CaseKeyDestroyed",
    "CaseKeyRow",
    "CaseMergeRow",
    "CaseNumberRow",
    "CaseRow",
    "CaseSealer",
    "ChainProblem",
    "ClockRow",
    "DefinitionRow",
    "DestructionError",
    "DestructionRow",
    "EarlyWarningRow",
    "EarlyWarnings",
    "JSONType",
    "OpenCase",
    "OutboxRow",
    "OutboxStatus",
    "PiiAccessRow",
    "Publication",
    "PublishRefused",
    "Published",
    "ResponsibilityRow",
    "SatisfactionRow",
    "StorageActivities",
    "TemplateRow",
    "UTCDateTime",
    "VersionInfo",
    "WarningCaseRow",
    "access_log",
    "allocate_case_number",
    "approve_destruction",
    "case_definition",
    "chain_hash",
    "database_problem",
    "describe_failure",
    "first_problem",
    "get_case",
    "groups_of",
    "has_identity",
    "holds_sealed",
    "is_data_fault",
    "is_sealed",
    "is_shredded",
    "keys_by_master",
    "list_events",
    "list_outbox",
    "list_warnings",
    "load_models",
    "load_specs",
    "make_engine",
    "make_session_factory",
    "merge_links",
    "open_cases_by_stage",
    "open_cases_on",
    "outbox_key",
    "possible_duplicates",
    "publish",
    "published_hashes",
    "record_access",
    "request_destruction",
    "rewrap",
    "scrub",
    "storage_failure",
    "store_step",
    "stored_case_ids",
    "version_spec",
    "version_templates",
    "versions",
]
