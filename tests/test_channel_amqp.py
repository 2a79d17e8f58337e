"""Domain events published to the local RabbitMQ, consumed from a queue of the test's own."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import aio_pika
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from sqlalchemy.orm import Session, sessionmaker

from activities.channels.amqp import AmqpChannel
from activities.events import EVENTS_RECIPIENT, domain_events
from activities.inputs import DeliverInput, DeliverResult, StepRecord
from activities.messaging import ConsoleChannel, MessagingActivities
from activities.storage import StorageActivities
from tests.messaging_support import CUSTOMER, SECRETS, T0, notify, outbox
from tests.services import require_service

AMQP_URL = os.environ.get("KESU_TEST_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
CASE = "complaint-投诉-3"


@pytest_asyncio.fixture
async def exchange() -> AsyncIterator[tuple[str, AbstractQueue]]:
    """A fresh exchange and an exclusive queue bound to every case and deadline event."""
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPError) as error:
        require_service("RabbitMQ", f"RabbitMQ not reachable: {type(error).__name__}: {error}")
    name = f"kesu.test.{uuid.uuid4().hex[:10]}"
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(declared, "case.#")
        await queue.bind(declared, "deadline.*")
        try:
            yield name, queue
        finally:
            await declared.delete()


async def drain(queue: AbstractQueue) -> list[AbstractIncomingMessage]:
    # Publisher confirms mean a confirmed message is already in the queue: no waiting needed.
    messages = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        messages.append(message)
    return messages


def steps() -> list[StepRecord]:
    base = {"process": "complaint", "version": 1, "content_hash": "h", "actor": "王敏"}
    shape = [
        ("case.opened", None, "intake", False),
        ("accept", "intake", "triage", False),
        ("deadline.warning:response", "triage", "triage", False),
        ("withdraw", "triage", "withdrawn", True),
    ]
    return [
        StepRecord(
            case_id=CASE,
            seq=seq,
            event=event,
            from_stage=source,
            to_stage=target,
            final=final,
            fields=dict(CUSTOMER),
            pii_fields=["customer_name", "phone", "email"],
            at=T0 + timedelta(hours=seq),
            messages=[notify("customer", "acknowledged", CASE)] if seq == 0 else [],
            **base,
        )
        for seq, (event, source, target, final) in enumerate(shape)
    ]


async def test_domain_events_are_published_once_with_their_keys(
    session_factory: sessionmaker[Session], exchange: tuple[str, AbstractQueue]
) -> None:
    name, queue = exchange
    channel = AmqpChannel(AMQP_URL, name, timeout=10)
    storage = StorageActivities(session_factory, domain_events)
    messaging = MessagingActivities(session_factory, {EVENTS_RECIPIENT: channel}, ConsoleChannel())
    try:
        for record in steps():
            await asyncio.to_thread(storage.record_step, record)
        first = await asyncio.to_thread(messaging.deliver_outbox, DeliverInput(case_id=CASE))
        second = await asyncio.to_thread(messaging.deliver_pending)
    finally:
        await asyncio.to_thread(channel.close)

    assert first == DeliverResult(delivered=6, failed=0)  # 5 events and the customer's ack
    assert second == DeliverResult(delivered=0, failed=0)
    received = await drain(queue)
    assert [(m.routing_key, m.message_id) for m in received] == [
        ("case.opened", f"{CASE}:0:1"),
        ("case.stage_changed", f"{CASE}:1:0"),
        ("deadline.warning", f"{CASE}:2:0"),
        ("case.stage_changed", f"{CASE}:3:0"),
        ("case.closed", f"{CASE}:3:1"),
    ]
    warning = received[2]
    assert warning.content_type == "application/json"
    assert warning.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert warning.headers == {"case_id": CASE, "recipient": "events"}
    body = json.loads(warning.body)
    assert (body["type"], body["case_id"], body["deadline"], body["stage"]) == (
        "deadline.warning",
        CASE,
        "response",
        "triage",
    )
    for message in received:
        for secret in SECRETS:
            assert secret not in message.body.decode("utf-8")
    assert all(row.status == "delivered" for row in outbox(session_factory, CASE))


async def test_an_unreachable_broker_leaves_the_event_pending(
    session_factory: sessionmaker[Session],
) -> None:
    channel = AmqpChannel("amqp://guest:guest@127.0.0.1:1/", "kesu.nowhere", timeout=5)
    storage = StorageActivities(session_factory, domain_events)
    messaging = MessagingActivities(session_factory, {EVENTS_RECIPIENT: channel}, ConsoleChannel())
    try:
        await asyncio.to_thread(storage.record_step, steps()[1])
        result = await asyncio.to_thread(messaging.deliver_outbox, DeliverInput(case_id=CASE))
    finally:
        await asyncio.to_thread(channel.close)

    assert result == DeliverResult(delivered=0, failed=1)
    [row] = outbox(session_factory, CASE)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.claimed_until is not None  # waits out its backoff before the next try
