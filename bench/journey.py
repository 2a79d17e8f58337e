"""One complaint's journey, driven through kesu or through the hand-written baseline.

Both drivers send the same start and the same events (as Temporal updates with fresh ids); a
case counts as done when its last event is answered and every message it queued has been
delivered, so trailing activities are inside the measured time in both cases.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)

from activities.storage import OutboxRow, OutboxStatus, make_engine
from bench.common import CpuMeter, Phase, measured, run_bounded, stuck_guard
from bench.raw_complaint import RawCaseInput, RawComplaint
from process.state import EventInput, EventResult
from service.cases import Kesu
from workflows import search

LOCAL_ACTIVITY_MARKER = "core_local_activity"
"""The marker name Temporal's SDK core records a local activity's result under."""

FIELDS: dict[str, Any] = {
    "customer_id": "C-1",
    "customer_name": "张女士",
    "category": "card",
    "description": "年费被重复扣收",
}
# (event, actor, roles, inputs): intake -> triage -> handling -> feedback -> closure -> closed
JOURNEY: list[tuple[str, str, list[str], dict[str, Any]]] = [
    ("accept", "王敏", ["agent"], {}),
    ("assign", "李强", ["supervisor"], {"assignee": "陈静"}),
    ("submit_plan", "陈静", ["handler"], {"plan": "核实后退费"}),
    ("propose", "陈静", ["handler"], {"resolution": "退还年费 300 元"}),
    ("satisfied", "customer", ["customer"], {"csat": 5}),
    ("close", "陈静", ["handler"], {"responsibility": "customer", "root_cause": "客户误解"}),
]
OPENED_STAGE = "triage"
"""Where ``open_*`` leaves a case: accepted, its three deadlines running."""


async def kesu_case(kesu: Kesu, key: str, events: int = len(JOURNEY)) -> str:
    """Open a complaint through the shipped API and send it the first ``events`` events."""
    case_id = (
        await kesu.start_case("complaint", FIELDS, key=key, actor="web", roles=["agent"])
    ).case_id
    for event, actor, roles, data in JOURNEY[:events]:
        await kesu.send_event(case_id, event, actor=actor, roles=roles, data=data)
    return case_id


async def raw_case(client: Client, task_queue: str, key: str, events: int = len(JOURNEY)) -> str:
    """The same, on the hand-written workflow through the plain client."""
    case_id = f"complaint-{key}"
    handle = await client.start_workflow(
        RawComplaint.run,
        RawCaseInput(case_id=case_id, fields=FIELDS, actor="web"),
        id=case_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(search.PROCESS, "complaint"),
                SearchAttributePair(search.STAGE, "intake"),
            ]
        ),
    )
    for event, actor, roles, data in JOURNEY[:events]:
        await handle.execute_update(
            "event",
            EventInput(event=event, actor=actor, roles=roles, data=data),
            id=uuid.uuid4().hex,
            result_type=EventResult,
        )
    return case_id


Drive = Callable[[str], Coroutine[Any, Any, str]]
"""Runs one case's journey under the given key; returns its case id."""


async def drive_cases(
    worker: CpuMeter, database_url: str, drive: Drive, cases: int, concurrency: int
) -> tuple[list[str], Phase]:
    """``cases`` journeys, ``concurrency`` at a time, until their last message is delivered."""

    async def work() -> list[str]:
        ids = await run_bounded(cases, concurrency, lambda _: drive(unused_key("bench")))
        await stuck_guard(outbox_drained(database_url), "delivering the outbox")
        return ids

    return await measured(worker, work())


async def outbox_drained(database_url: str, poll_seconds: float = 0.02) -> None:
    """Return once no message waits in the outbox (each case's last delivery has run)."""
    engine = make_engine(database_url)
    pending = select(func.count()).select_from(OutboxRow)
    pending = pending.where(OutboxRow.status == OutboxStatus.PENDING.value)
    try:
        while True:
            with engine.connect() as connection:
                if connection.execute(pending).scalar_one() == 0:
                    return
            await asyncio.sleep(poll_seconds)
    finally:
        engine.dispose()


async def history_profile(client: Client, workflow_ids: list[str]) -> dict[str, float]:
    """What a case put into Temporal, averaged over ``workflow_ids``: activities, timers,
    updates, events. Timers vary from case to case: whether a timer is armed between an
    update and the delivery after it depends on which task the server hands out first, and
    a delivery may now and then take the messages of two steps at once."""
    kinds = {
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
        EventType.EVENT_TYPE_TIMER_STARTED: "timers",
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow tasks",
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search upserts",
    }
    counts: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        counts["events"] += len(history.events)
        counts["history bytes"] += sum(event.ByteSize() for event in history.events)
        for event in history.events:
            if event.event_type in kinds:
                counts[kinds[event.event_type]] += 1
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                counts[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
            local = _local_activity(event)
            if local is not None:  # one marker, where a durable activity has three events
                counts["activities"] += 1
                counts["local activities"] += 1
                counts[local] += 1
    return {name: count / max(1, len(workflow_ids)) for name, count in counts.items()}


def _local_activity(event: HistoryEvent) -> str | None:
    """The activity type a local activity's marker records, or None for any other event."""
    if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in marker.details:
        return None
    data = json.loads(marker.details["data"].payloads[0].data)
    return str(data["activity_type"])


def unused_key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
