"""Domain events for other systems, derived from the facts of a stored step.

``record_step`` adds them to the step's outbox messages (recipient ``events``) when the worker's
channel configuration routes ``events`` somewhere, so an event is queued in the same transaction
as the case change it reports, and is keyed like any message (``case:seq:index``): a retried
step queues nothing new, and the dispatcher delivers each event once per key.

An event is a pure function of its step; it carries no customer data: the case's fields go
out without those the definition marks ``pii``.
"""

from __future__ import annotations

from typing import Any

from activities.inputs import OutboxMessage, StepRecord
from process.events import (
    BREACHED_EVENT_PREFIX,
    CASE_CLOSED,
    CASE_STAGE_CHANGED,
    DEADLINE_BREACHED,
    DEADLINE_WARNING,
    OPENED_EVENT,
    WARNING_EVENT_PREFIX,
)

EVENTS_RECIPIENT = "events"
"""The recipient role of domain events; route it to a channel to have events published."""


def _deadline_event(trigger: str) -> tuple[str, str] | None:
    """``deadline.breached:plan`` -> (``deadline.breached``, ``plan``)."""
    for prefix, kind in (
        (WARNING_EVENT_PREFIX, DEADLINE_WARNING),
        (BREACHED_EVENT_PREFIX, DEADLINE_BREACHED),
    ):
        if trigger.startswith(prefix):
            return kind, trigger.removeprefix(prefix)
    return None


def domain_events(step: StepRecord) -> list[OutboxMessage]:
    """The domain events ``step`` causes, in a fixed order (their keys depend on it)."""
    kinds: list[tuple[str, str | None]] = []
    if step.event == OPENED_EVENT:
        kinds.append((OPENED_EVENT, None))
    deadline = _deadline_event(step.event)
    if deadline is not None:
        kinds.append(deadline)
    if step.from_stage is not None and step.from_stage != step.to_stage:
        kinds.append((CASE_STAGE_CHANGED, None))
    if step.final:
        kinds.append((CASE_CLOSED, None))
    return [
        OutboxMessage(recipient=EVENTS_RECIPIENT, template=kind, params=_body(kind, name, step))
        for kind, name in kinds
    ]


def _body(kind: str, deadline: str | None, step: StepRecord) -> dict[str, Any]:
    hidden = set(step.pii_fields)
    body: dict[str, Any] = {
        "type": kind,
        "case_id": step.case_id,
        "seq": step.seq,
        "at": step.at.isoformat(),
        "process": step.process,
        "version": step.version,
        "trigger": step.event,
        "from_stage": step.from_stage,
        "stage": step.to_stage,
        "fields": {name: value for name, value in step.fields.items() if name not in hidden},
    }
    if deadline is not None:
        body["deadline"] = deadline
        clock = step.clocks.get(deadline)
        body["due_at"] = clock.model_dump(mode="json")["due_at"] if clock is not None else None
        if clock is not None and clock.provisional:
            body["provisional"] = clock.provisional  # why due_at is only provisional
    return body
