"""Inputs and results of kesu's activities.

Kept apart from the activity implementations so that workflow code can import them without
pulling in SQLAlchemy or network clients (workflow code must stay free of I/O libraries).
One pydantic model per activity, so fields can be added compatibly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from process.spec import Reporting
from process.state import OutboxMessage

__all__ = ["DeliverInput", "DeliverResult", "OutboxMessage", "StepRecord", "StepRecorded"]


class StepRecord(BaseModel):
    """One step of a case: stored once, keyed by (case_id, seq)."""

    case_id: str
    seq: int
    """0 for the opening step, then 1, 2, ... in the order the workflow applied them."""
    process: str
    version: int
    content_hash: str
    event: str
    """``case.opened``, an event name, ``timeout``, ``deadline.breached:<name>``, ..."""
    from_stage: str | None
    to_stage: str
    actor: str
    role: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    """The inputs the event carried."""
    fields: dict[str, Any] = Field(default_factory=dict)
    """The case's fields after the step."""
    clocks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Every deadline clock after the step (status, started/due/stopped/breached times)."""
    pii_fields: list[str] = Field(default_factory=list)
    """Names of fields that hold customer data (kept out of logs)."""
    at: datetime
    final: bool = False
    """True when ``to_stage`` ends the case."""
    messages: list[OutboxMessage] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    """What followed from the step (clock changes, a reassignment's reason): audited too."""
    case_number_prefix: str | None = None
    """``CP``: the case gets ``CP-<year>-<n>`` when its first step is stored."""
    time_zone: str = "UTC"
    """The process's zone (its calendar's): the year of a case number is counted in it."""
    reporting: Reporting = Field(default_factory=Reporting)
    """Which fields hold satisfaction and responsibility: storage keeps them in their tables."""


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
