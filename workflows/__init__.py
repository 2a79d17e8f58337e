"""The Temporal side of kesu: the one generic ``CaseWorkflow`` and its search attributes.

Workflow code stays deterministic: it imports the pure engine (``process``) and the activity
inputs, never SQL or network clients.
"""

from . import definitions, search
from .case import (
    CASE_QUERY,
    EVENT_UPDATE,
    REASSIGN_UPDATE,
    UPGRADE_UPDATE,
    WORKFLOW_NAME,
    CaseInput,
    CaseSummary,
    CaseView,
    CaseWorkflow,
)

__all__ = [
    "CASE_QUERY",
    "EVENT_UPDATE",
    "REASSIGN_UPDATE",
    "UPGRADE_UPDATE",
    "WORKFLOW_NAME",
    "CaseInput",
    "CaseSummary",
    "CaseView",
    "CaseWorkflow",
    "definitions",
    "search",
]
