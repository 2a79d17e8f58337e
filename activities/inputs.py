"""Inputs and results of kesu's activities.

Kept apart from the activity implementations so that workflow code can import them without
pulling in SQLAlchemy or network clients (workflow code must stay free of I/O libraries).
One pydantic model per activity, so fields can be added compatibly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from process.clocks import ClockState
from process.merging import Merging
from process.spec import Reporting
from process.state import OutboxMessage, Step

__all__ = [
    "STEP_NOT_STORABLE",
    "STORAGE_FAILED",
    "DeliverInput",
    "DeliverResult",
    "HaltReport",
    "HaltReported",
    "OutboxMessage",
    "StepRecord",
    "StepRecorded",
]

STEP_NOT_STORABLE = "StepNotStorable"
"""Failure type of a step whose data the database refuses: retrying cannot help."""
STORAGE_FAILED = "StorageFailed"
"""Failure type of a step not stored because of the database (an outage): retried."""


class StepRecord(Step):
    """One step of a case as storage keeps it: the timeline's ``Step`` plus what the case was
    after it. Stored once, keyed by (case_id, seq); ``seq`` 0 is the opening step."""

    case_id: str
    process: str
    version: int
    content_hash: str
    fields: dict[str, Any] = Field(default_factory=dict)
    """The case's fields after the step."""
    clocks: dict[str, ClockState] = Field(default_factory=dict)
    """Every deadline clock after the step (status, started/due/stopped/breached times)."""
    pii_fields: list[str] = Field(default_factory=list)
    """Names of fields that hold customer data (kept out of logs)."""
    final: bool = False
    """True when ``to_stage`` ends the case."""
    messages: list[OutboxMessage] = Field(default_factory=list)
    case_number_prefix: str | None = None
    """``CP``: the case gets ``CP-<year>-<n>`` when its first step is stored."""
    time_zone: str = "UTC"
    """The process's zone (its calendar's): the year of a case number is counted in it."""
    reporting: Reporting = Field(default_factory=Reporting)
    """Which fields hold satisfaction and responsibility: storage keeps them in their tables."""
    merging: Merging | None = None
    """Which fields identify the customer and category: storage keeps their keyed hash."""


class StepRecorded(BaseModel):
    """What ``record_step`` did: ``created`` is False when the step was already stored."""

    created: bool
    messages_queued: int


class DeliverInput(BaseModel):
    """Deliver whatever the outbox holds for one case."""

    case_id: str


class DeliverResult(BaseModel):
    delivered: int
    failed: int


class HaltReport(BaseModel):
    """A case halted: alert an operator (and, with domain events on, publish ``case.halted``).

    Names only the case and where it stopped, never its data: the alert may go anywhere.
    """

    case_id: str
    process: str
    version: int
    stage: str
    seq: int
    """The step the database refused."""
    event: str
    failure: str
    """The database error's class (and SQLSTATE), never its message."""
    at: datetime
    halt: int
    """How many times the case has halted so far (1 for the first): keys each alert apart."""


class HaltReported(BaseModel):
    """``queued`` is False when this halt's alert was queued before (a retried activity)."""

    queued: bool
