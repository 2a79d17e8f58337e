"""The state of one case and the records its steps leave: plain, serialisable models.

The workflow keeps a ``CaseState``, answers queries with it and carries it across
continue-as-new; the engine changes it only through steps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from .clocks import ClockState
from .events import DUPLICATE_LINKED_EVENT, GROUPED_EVENT, MERGED_EVENT, TIMEOUT_EVENT

LINK_EVENTS = frozenset({MERGED_EVENT, DUPLICATE_LINKED_EVENT, GROUPED_EVENT})
"""Steps the case's links are read from (merged into, its duplicates, its group): kept when
the timeline is trimmed, so a long case still knows them."""

ASSIGNEE_FIELD = "assignee"
"""The field naming a case's responsible person (责任人), the one ``reassign`` moves."""


class OutboxMessage(BaseModel):
    """A message a step causes: written to the outbox in the step's own transaction."""

    recipient: str
    """The role the message goes to (``customer``, ``supervisor``, ...)."""
    template: str
    """Name of the message template, e.g. ``acknowledged``."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Values for the template. Never logged: they may contain customer data."""


class EventInput(BaseModel):
    """An event sent to a case by a person or a system (a Temporal update)."""

    event: str
    actor: str = "system"
    roles: list[str] = Field(default_factory=list)
    """The roles the sender acts in; checked against the roles the definition allows."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Field values the event brings (``resolution``, ``csat``...)."""


class ReassignInput(BaseModel):
    """Move a case from one responsible person to another (an employee left, a team changed)."""

    from_assignee: str
    to_assignee: str
    actor: str = "system"
    reason: str | None = None
    roles: list[str] = Field(default_factory=list)
    """The roles the mover acts in: one of the definition's ``conflicts.override_roles`` may
    override a conflict of interest (回避) with a ``justification``."""
    data: dict[str, Any] = Field(default_factory=dict)
    """What the conflict rules need to know of the new assignee (``assignee_branch``)."""
    justification: str | None = None
    """Why the move goes ahead despite a conflict of interest; recorded in the timeline."""


class EventResult(BaseModel):
    seq: int
    from_stage: str
    stage: str
    closed: bool


class Step(BaseModel):
    """One entry of a case's timeline: who did what, when, and what followed from it."""

    seq: int
    at: datetime
    event: str
    from_stage: str | None
    to_stage: str
    actor: str
    role: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class CaseState(BaseModel):
    case_id: str
    process: str
    version: int
    content_hash: str
    stage: str
    fields: dict[str, Any]
    opened_at: datetime
    stage_entered_at: datetime
    closed_at: datetime | None = None
    clocks: dict[str, ClockState] = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    """The timeline, or for a long case its latest part (``earlier_steps``)."""
    earlier_steps: int = 0
    """Steps left out of ``steps`` (all stored in the database): a long case carries only
    its latest steps into a new run (``trimmed``), so its state stays the same size."""

    @property
    def next_seq(self) -> int:
        return self.steps[-1].seq + 1 if self.steps else self.earlier_steps

    def trimmed(self, keep: int) -> CaseState:
        """This state with only the latest ``keep`` steps, plus the last timeout out of each
        stage before them (a timeout's ``refuse`` window reads it: ``closed_window``) and the
        steps that recorded the case's links."""
        if len(self.steps) <= keep:
            return self
        split = len(self.steps) - keep
        older, latest = self.steps[:split], self.steps[split:]
        timeouts = {step.from_stage: step for step in older if step.event == TIMEOUT_EVENT}
        links = [step for step in older if step.event in LINK_EVENTS]
        kept = sorted([*timeouts.values(), *links], key=lambda step: step.seq) + latest
        left_out = self.earlier_steps + len(self.steps) - len(kept)
        return self.model_copy(update={"steps": kept, "earlier_steps": left_out})

    @property
    def next_deadline(self) -> datetime | None:
        due = [clock.due_at for clock in self.clocks.values() if clock.due_at is not None]
        return min(due) if due else None

    @property
    def breached(self) -> bool:
        return any(clock.breached_at is not None for clock in self.clocks.values())

    @property
    def provisional(self) -> bool:
        """A due time is provisional: a running clock counts past its calendar's end."""
        return any(clock.provisional is not None for clock in self.clocks.values())


class Outcome(BaseModel):
    """A step just taken, the messages it causes, and whether it closed the case."""

    step: Step
    messages: list[OutboxMessage] = Field(default_factory=list)
    final: bool = False
