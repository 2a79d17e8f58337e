"""The process language and the pure case engine: no Temporal, no SQL, no I/O.

Definitions are read from YAML into typed models (``spec``) by the ``loader``, checked, compiled
(``compiler``) and run step by step by ``CaseEngine``. Everything above this package
(activities, workflows, service, the entry points) imports it; it imports none of them.
"""

from .calendars import BusinessCalendar, CalendarCoverageError, CalendarSpec
from .catalog import SpecCatalog
from .clocks import ClockState, ClockStatus
from .compiler import CompiledSpec, compile_definition
from .engine import CaseEngine
from .loader import Catalog, DefinitionError, load_catalog, load_definition, load_definition_text
from .pii import pii_names
from .problems import Problems
from .refusals import IllegalEvent, Refusal, RefusalKind
from .repair import HaltedStep, RepairInput, record_repair, repair_problem
from .spec import Deadline, FieldSpec, FieldType, ProcessDefinition, Reporting
from .state import (
    CaseState,
    EventInput,
    EventResult,
    OutboxMessage,
    Outcome,
    ReassignInput,
    Step,
)
from .upgrade import UpgradeInput, upgrade_case, upgrade_problem

__all__ = [
    "BusinessCalendar",
    "CalendarCoverageError",
    "CalendarSpec",
    "CaseEngine",
    "CaseState",
    "Catalog",
    "ClockState",
    "ClockStatus",
    "CompiledSpec",
    "Deadline",
    "DefinitionError",
    "EventInput",
    "EventResult",
    "FieldSpec",
    "FieldType",
    "HaltedStep",
    "IllegalEvent",
    "OutboxMessage",
    "Outcome",
    "Problems",
    "ProcessDefinition",
    "ReassignInput",
    "Refusal",
    "RefusalKind",
    "RepairInput",
    "Reporting",
    "SpecCatalog",
    "Step",
    "UpgradeInput",
    "compile_definition",
    "load_catalog",
    "load_definition",
    "load_definition_text",
    "pii_names",
    "record_repair",
    "repair_problem",
    "upgrade_case",
    "upgrade_problem",
]
