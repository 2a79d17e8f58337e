"""Domain events: derived from steps, queued in the step's transaction, once per step."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from activities.events import domain_events
from activities.inputs import StepRecord
from activities.storage import StorageActivities
from tests.messaging_support import CUSTOMER, T0, notify, outbox

CASE = "complaint-9"
PII = ["customer_name", "phone", "email"]


def step(seq: int, event: str, source: str | None, target: str, **extra: object) -> StepRecord:
    return StepRecord(
        case_id=CASE,
        seq=seq,
        process="complaint",
        version=2,
        content_hash="h",
        event=event,
        from_stage=source,
        to_stage=target,
        actor="王敏",
        fields=dict(CUSTOMER),
        pii_fields=PII,
        at=T0 + timedelta(hours=seq),
        **extra,
    )


def kinds(record: StepRecord) -> list[str]:
    return [message.template for message in domain_events(record)]


def test_which_steps_cause_which_events() -> None:
    assert kinds(step(0, "case.opened", None, "intake")) == ["case.opened"]
    assert kinds(step(1, "accept", "intake", "triage")) == ["case.stage_changed"]
    assert kinds(step(2, "submit_plan", "handling", "handling")) == []
    assert kinds(step(3, "deadline.warning:plan", "handling", "handling")) == ["deadline.warning"]
    assert kinds(step(4, "deadline.breached:plan", "handling", "escalation")) == [
        "deadline.breached",
        "case.stage_changed",
    ]
    assert kinds(step(5, "deadline.escalated:plan:1", "handling", "handling")) == []
    assert kinds(step(6, "timeout", "closed", "archived", final=True)) == [
        "case.stage_changed",
        "case.closed",
    ]


def test_an_event_carries_the_facts_but_no_customer_data() -> None:
    clocks = {"plan": {"name": "plan", "status": "running", "due_at": "2026-11-25T09:00:00Z"}}
    [event] = domain_events(
        step(3, "deadline.breached:plan", "handling", "handling", clocks=clocks)
    )

    assert event.recipient == "events"
    assert event.params == {
        "type": "deadline.breached",
        "case_id": CASE,
        "seq": 3,
        "at": (T0 + timedelta(hours=3)).isoformat(),
        "process": "complaint",
        "version": 2,
        "trigger": "deadline.breached:plan",
        "from_stage": "handling",
        "stage": "handling",
        "fields": {"customer_id": "C-1", "resolution": "已退还年费 200 元"},
        "deadline": "plan",
        "due_at": "2026-11-25T09:00:00Z",
    }


def test_events_are_queued_with_the_step_once(session_factory: sessionmaker[Session]) -> None:
    storage = StorageActivities(session_factory, domain_events)
    opened = step(0, "case.opened", None, "intake", messages=[notify("customer", "ack", CASE)])

    first = storage.record_step(opened)
    again = storage.record_step(opened)  # a retried activity

    assert (first.messages_queued, again.messages_queued) == (2, 0)
    rows = outbox(session_factory, CASE)
    assert [(r.idempotency_key, r.recipient, r.template) for r in rows] == [
        (f"{CASE}:0:0", "customer", "ack"),
        (f"{CASE}:0:1", "events", "case.opened"),
    ]


def test_without_an_events_route_no_events_are_queued(
    session_factory: sessionmaker[Session],
) -> None:
    StorageActivities(session_factory).record_step(step(0, "case.opened", None, "intake"))
    assert outbox(session_factory, CASE) == []
