"""Search attributes kesu keeps on every case so operators can list and filter cases.

They are stored unencrypted by Temporal: only stage, process, priority and deadline facts go
here, never a customer's data.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("KesuStage")
PROCESS = SearchAttributeKey.for_keyword("KesuProcess")
PRIORITY = SearchAttributeKey.for_keyword("KesuPriority")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("KesuNextDeadline")
BREACHED = SearchAttributeKey.for_bool("KesuBreached")
PROVISIONAL = SearchAttributeKey.for_bool("KesuProvisional")
"""A running clock's due time is provisional: its calendar ends before it."""

HALTED = SearchAttributeKey.for_bool("KesuHalted")
"""The database refused a step of the case for its data: it waits for an operator's repair."""

ALL = (STAGE, PROCESS, PRIORITY, NEXT_DEADLINE, BREACHED, PROVISIONAL, HALTED)
