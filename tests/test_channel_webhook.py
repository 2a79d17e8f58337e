"""Webhooks against a real HTTP server on loopback that checks the signature."""

from __future__ import annotations

import logging
import urllib.parse
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from activities.channels.webhook import WebhookChannel
from activities.events import EVENTS_RECIPIENT
from activities.inputs import DeliverInput, DeliverResult, OutboxMessage
from activities.messaging import Backoff, ConsoleChannel, MessagingActivities
from tests.messaging_support import SECRETS, T0, notify, outbox, record, shipped_renderer
from tests.receivers import WEBHOOK_SECRET, Receiver

CASE = "complaint-网点-7"  # case ids may hold any character but space and '/'


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_a_receiver_failing_twice_gets_the_message_once(
    session_factory: sessionmaker[Session],
    webhook_receiver: tuple[Receiver, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    state, url = webhook_receiver
    state.statuses = [503, 500]
    clock = Clock()
    hook = WebhookChannel(url, WEBHOOK_SECRET, shipped_renderer(), timeout=10)
    messaging = MessagingActivities(
        session_factory,
        {"supervisor": hook},
        ConsoleChannel(),
        backoff=Backoff(first=timedelta(seconds=30)),
        clock=clock,
    )
    [key] = record(session_factory, CASE, 2, notify("supervisor", "escalated", CASE))

    with caplog.at_level(logging.INFO):
        results = []
        for wait in (0, 10, 20, 40, 30, 500):  # sweeps; retries are due at +30 s and +60 s more
            clock.now += timedelta(seconds=wait)
            results.append(messaging.deliver_pending())

    assert [(r.delivered, r.failed) for r in results] == [
        (0, 1),  # 503
        (0, 0),  # 10 s later: still waiting out the backoff
        (0, 1),  # 30 s after the failure: 500
        (0, 0),
        (1, 0),  # 60 s after that: 200
        (0, 0),
    ]
    [row] = outbox(session_factory, CASE)
    assert (row.status, row.attempts) == ("delivered", 3)
    assert row.last_error == "ConnectionError: the webhook answered HTTP 500"
    assert state.bad_signatures == 0
    assert len(state.requests) == 3  # one per attempt, the last one accepted
    keys = {urllib.parse.unquote(headers["Idempotency-Key"]) for headers, _ in state.requests}
    assert keys == {key}
    headers, body = state.requests[-1]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert body["id"] == key and body["case_id"] == CASE and body["template"] == "escalated"
    assert body["message"]["subject"] == f"【升级】案件 {CASE} 已升级，请尽快处理"
    assert body["message"]["language"] == "zh-CN"
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_refusing_receiver_makes_the_message_dead(
    session_factory: sessionmaker[Session], webhook_receiver: tuple[Receiver, str]
) -> None:
    state, url = webhook_receiver
    state.statuses = [422]
    hook = WebhookChannel(url, WEBHOOK_SECRET, shipped_renderer())
    messaging = MessagingActivities(session_factory, {"supervisor": hook}, ConsoleChannel())
    record(session_factory, CASE, 2, notify("supervisor", "escalated", CASE))

    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
        delivered=0, failed=1
    )
    [row] = outbox(session_factory, CASE)
    assert (row.status, row.last_error) == (
        "dead",
        "PermanentError: the webhook refused the message (HTTP 422)",
    )


def test_a_wrong_secret_is_refused_by_the_receiver(
    session_factory: sessionmaker[Session], webhook_receiver: tuple[Receiver, str]
) -> None:
    state, url = webhook_receiver
    hook = WebhookChannel(url, b"not-the-secret", shipped_renderer())
    messaging = MessagingActivities(session_factory, {"supervisor": hook}, ConsoleChannel())
    record(session_factory, CASE, 2, notify("supervisor", "escalated", CASE))

    messaging.deliver_outbox(DeliverInput(case_id=CASE))

    assert state.bad_signatures == 1 and state.requests == []
    [row] = outbox(session_factory, CASE)
    assert row.status == "dead"  # 401: retrying with the same secret cannot help


def test_domain_events_go_out_as_event_documents(
    session_factory: sessionmaker[Session], webhook_receiver: tuple[Receiver, str]
) -> None:
    state, url = webhook_receiver
    hook = WebhookChannel(url, WEBHOOK_SECRET, renderer=None)
    messaging = MessagingActivities(session_factory, {EVENTS_RECIPIENT: hook}, ConsoleChannel())
    event = OutboxMessage(
        recipient=EVENTS_RECIPIENT,
        template="case.opened",
        params={"type": "case.opened", "case_id": CASE, "stage": "intake"},
    )
    [key] = record(session_factory, CASE, 0, event)

    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)).delivered == 1

    [(_, body)] = state.requests
    assert body == {
        "id": key,
        "case_id": CASE,
        "recipient": "events",
        "template": "case.opened",
        "event": {"type": "case.opened", "case_id": CASE, "stage": "intake"},
    }
