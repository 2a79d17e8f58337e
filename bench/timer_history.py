"""Where a deadline's lateness comes from, read from the case's Temporal history.

A deadline due ``within`` seconds after the case's first workflow task is late by the sum of:

- arming: the timer's fire time minus the due time. The workflow computes the delay from the
  start time of the task that arms the timer, but the server starts the timer only when that
  task completes, so the task's own processing (and any wait for the worker) shifts it later;
- timer: when the server fired it minus when it was set to fire;
- dispatch: the start of the workflow task that saw it fire minus when it fired (the breach is
  stamped with that task's time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


@dataclass(frozen=True)
class TimerParts:
    arming: float
    timer: float
    dispatch: float


async def timer_parts(client: Client, workflow_id: str, within: float) -> TimerParts:
    """The parts of the lateness of the first timer that fired in ``workflow_id``, in seconds."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    first_task: datetime | None = None
    set_to_fire: dict[str, datetime] = {}
    fired: datetime | None = None
    fire_time: datetime | None = None
    for event in history.events:
        at = event.event_time.ToDatetime()
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            if first_task is None:
                first_task = at
            elif fired is not None and fire_time is not None:
                due = first_task + timedelta(seconds=within)
                return TimerParts(
                    arming=(fire_time - due).total_seconds(),
                    timer=(fired - fire_time).total_seconds(),
                    dispatch=(at - fired).total_seconds(),
                )
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            attributes = event.timer_started_event_attributes
            duration = attributes.start_to_fire_timeout.ToTimedelta()
            set_to_fire[attributes.timer_id] = at + duration
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED and fired is None:
            fired, fire_time = at, set_to_fire[event.timer_fired_event_attributes.timer_id]
    raise RuntimeError(f"{workflow_id}: no fired timer followed by a workflow task in its history")
