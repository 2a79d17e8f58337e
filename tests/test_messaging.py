"""Outbox delivery, on SQLite and PostgreSQL (see ``database_url``)."""

from __future__ import annotations

import io
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from activities.inputs import DeliverInput, DeliverResult, OutboxMessage, StepRecord
from activities.messaging import (
    Backoff,
    ConsoleChannel,
    Envelope,
    MessagingActivities,
    PermanentError,
)
from activities.storage import OutboxRow, StorageActivities, list_outbox

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CASE = "complaint-42"
SECRET_PARAMS = {"name": "张伟", "phone": "13800138000"}
NO_WAIT = Backoff(first=timedelta(0), limit=timedelta(0))


class FakeChannel:
    """Records what it sends; raises for the first ``failures`` calls (or all, if negative)."""

    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.failures = failures
        self.delay = delay
        self.calls = 0
        self.sent: list[Envelope] = []
        self._lock = threading.Lock()

    def send(self, message: Envelope) -> None:
        time.sleep(self.delay)
        with self._lock:
            self.calls += 1
            if self.failures < 0 or self.calls <= self.failures:
                raise ConnectionError(f"smtp down (try {self.calls})")
            self.sent.append(message)

    @property
    def keys(self) -> list[str]:
        return [m.idempotency_key for m in self.sent]


def queue(sessions: sessionmaker[Session], case_id: str, seq: int, *recipients: str) -> list[str]:
    """Record step ``seq`` of ``case_id`` with one message per recipient; their keys."""
    messages = [
        OutboxMessage(recipient=r, template=f"t{i}", params=SECRET_PARAMS)
        for i, r in enumerate(recipients)
    ]
    StorageActivities(sessions).record_step(
        StepRecord(
            case_id=case_id,
            seq=seq,
            process="complaint",
            version=1,
            content_hash="h",
            event="case.opened" if seq == 0 else "advance",
            from_stage=None if seq == 0 else "received",
            to_stage="received",
            actor="li",
            at=T0 + timedelta(minutes=seq),
            messages=messages,
        )
    )
    return [f"{case_id}:{seq}:{i}" for i in range(len(recipients))]


def outbox(sessions: sessionmaker[Session], case_id: str = CASE) -> list[OutboxRow]:
    with sessions() as session:
        return list_outbox(session, case_id)


def test_each_message_is_delivered_once_across_calls(
    session_factory: sessionmaker[Session],
) -> None:
    channel = FakeChannel()
    messaging = MessagingActivities(session_factory, {}, channel)
    first = queue(session_factory, CASE, 0, "customer", "supervisor")

    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
        delivered=2, failed=0
    )
    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
        delivered=0, failed=0
    )
    second = queue(session_factory, CASE, 1, "customer")
    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)).delivered == 1
    assert messaging.deliver_pending().delivered == 0

    assert channel.keys == first + second
    assert channel.sent[0] == Envelope(
        f"{CASE}:0:0", CASE, "customer", "t0", SECRET_PARAMS, trigger="case.opened"
    )
    assert channel.sent[2].trigger == "advance"  # the step's event, for deadline templates
    for row in outbox(session_factory):
        assert (row.status, row.attempts, row.last_error, row.claimed_until) == (
            "delivered",
            1,
            None,
            None,
        )
        assert row.delivered_at is not None and row.delivered_at.utcoffset() == timedelta(0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_a_flaky_channel_delivers_on_the_third_attempt(
    session_factory: sessionmaker[Session],
) -> None:
    channel = FakeChannel(failures=2)
    clock = Clock()
    messaging = MessagingActivities(
        session_factory, {}, channel, max_attempts=5, backoff=Backoff(), clock=clock
    )
    queue(session_factory, CASE, 0, "customer")

    results = []
    for wait in (0, 30, 60, 120):  # each retry as soon as its backoff allows
        clock.advance(wait)
        results.append(messaging.deliver_outbox(DeliverInput(case_id=CASE)))

    assert [(r.delivered, r.failed) for r in results] == [(0, 1), (0, 1), (1, 0), (0, 0)]
    [row] = outbox(session_factory)
    assert (row.status, row.attempts) == ("delivered", 3)
    assert row.last_error == "ConnectionError: smtp down (try 2)"  # kept for the record
    assert len(channel.sent) == 1


def test_a_dead_channel_gives_up_after_max_attempts(
    session_factory: sessionmaker[Session],
) -> None:
    channel = FakeChannel(failures=-1)
    clock = Clock()
    messaging = MessagingActivities(
        session_factory, {}, channel, max_attempts=3, backoff=NO_WAIT, clock=clock
    )
    queue(session_factory, CASE, 0, "customer")

    for attempt in range(1, 4):
        assert messaging.deliver_outbox(DeliverInput(case_id=CASE)).failed == 1
        [row] = outbox(session_factory)
        assert (row.status, row.attempts) == ("dead" if attempt == 3 else "pending", attempt)
    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
        delivered=0, failed=0
    )
    assert messaging.deliver_pending() == DeliverResult(delivered=0, failed=0)
    assert channel.calls == 3
    assert row.last_error == "ConnectionError: smtp down (try 3)"


def test_a_failed_message_waits_out_its_backoff(
    session_factory: sessionmaker[Session],
) -> None:
    channel = FakeChannel(failures=3)
    clock = Clock()
    backoff = Backoff(first=timedelta(seconds=10), limit=timedelta(seconds=25))
    messaging = MessagingActivities(session_factory, {}, channel, backoff=backoff, clock=clock)
    queue(session_factory, CASE, 0, "customer")

    tried_at = []
    for _ in range(80):  # a sweep every second
        if messaging.deliver_pending().failed or channel.sent:
            tried_at.append((clock.now - T0).total_seconds())
        if channel.sent:
            break
        clock.advance(1)

    # 10 s after the first failure, 20 s after the second, then the 25 s limit.
    assert tried_at == [0, 10, 30, 55]
    [row] = outbox(session_factory)
    assert (row.status, row.attempts, row.claimed_until) == ("delivered", 4, None)


def test_backoff_doubles_up_to_its_limit() -> None:
    backoff = Backoff(first=timedelta(seconds=30), limit=timedelta(hours=1))
    waits = [backoff.after(n).total_seconds() for n in (1, 2, 3, 7, 8, 500)]
    assert waits == [30, 60, 120, 1920, 3600, 3600]


def test_a_permanent_failure_is_dead_at_once(session_factory: sessionmaker[Session]) -> None:
    class Refusing:
        def send(self, message: Envelope) -> None:
            raise PermanentError("the SMTP server refused the recipient address")

    later = FakeChannel()
    messaging = MessagingActivities(session_factory, {"customer": Refusing()}, later)
    queue(session_factory, CASE, 0, "customer", "supervisor")
    queue(session_factory, CASE, 1, "customer")

    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
        delivered=1, failed=2
    )
    rows = outbox(session_factory)
    assert [(r.recipient, r.status, r.attempts) for r in rows] == [
        ("customer", "dead", 1),
        ("supervisor", "delivered", 1),
        ("customer", "dead", 1),  # a dead message does not hold back later ones
    ]
    assert rows[0].last_error == ("PermanentError: the SMTP server refused the recipient address")


def test_long_errors_are_truncated(session_factory: sessionmaker[Session]) -> None:
    class Verbose:
        def send(self, message: Envelope) -> None:
            raise RuntimeError("x" * 10_000)

    queue(session_factory, CASE, 0, "customer")
    MessagingActivities(session_factory, {}, Verbose()).deliver_outbox(DeliverInput(case_id=CASE))
    [row] = outbox(session_factory)
    assert row.last_error is not None and row.last_error.startswith("RuntimeError: xxx")
    assert len(row.last_error) == 500


def test_messages_go_to_their_recipients_channel(
    session_factory: sessionmaker[Session],
) -> None:
    supervisor, default = FakeChannel(), FakeChannel()
    messaging = MessagingActivities(session_factory, {"supervisor": supervisor}, default)
    queue(session_factory, CASE, 0, "customer", "supervisor", "handler")

    messaging.deliver_outbox(DeliverInput(case_id=CASE))

    assert [m.recipient for m in supervisor.sent] == ["supervisor"]
    assert [m.recipient for m in default.sent] == ["customer", "handler"]


def test_a_failure_holds_back_later_messages_to_the_same_recipient(
    session_factory: sessionmaker[Session],
) -> None:
    customer, supervisor = FakeChannel(failures=1), FakeChannel()
    messaging = MessagingActivities(
        session_factory, {"customer": customer}, supervisor, backoff=NO_WAIT
    )
    first = queue(session_factory, CASE, 0, "customer", "supervisor")
    second = queue(session_factory, CASE, 1, "customer")

    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
        delivered=1, failed=1
    )
    assert customer.keys == [] and supervisor.keys == [first[1]]
    assert messaging.deliver_outbox(DeliverInput(case_id=CASE)).delivered == 2
    assert customer.keys == [first[0], second[0]]  # in the order the case caused them


def test_deliver_pending_covers_all_cases_oldest_first(
    session_factory: sessionmaker[Session],
) -> None:
    channel = FakeChannel()
    messaging = MessagingActivities(session_factory, {}, channel)
    keys = [
        *queue(session_factory, "complaint-1", 0, "customer", "supervisor"),
        *queue(session_factory, "complaint-2", 0, "customer"),
        *queue(session_factory, "complaint-3", 0, "customer"),
    ]

    assert messaging.deliver_pending(limit=3) == DeliverResult(delivered=3, failed=0)
    assert messaging.deliver_pending(limit=3) == DeliverResult(delivered=1, failed=0)
    assert messaging.deliver_pending(limit=3) == DeliverResult(delivered=0, failed=0)
    assert channel.keys == keys


def test_a_claimed_message_waits_for_its_lease_to_end(
    session_factory: sessionmaker[Session],
) -> None:
    now = [T0]
    channel = FakeChannel()
    messaging = MessagingActivities(
        session_factory, {}, channel, lease=timedelta(minutes=5), clock=lambda: now[0]
    )
    queue(session_factory, CASE, 0, "customer")
    # Another deliverer claimed it, then died before recording the outcome.
    with session_factory.begin() as session:
        session.execute(update(OutboxRow).values(claimed_until=T0 + timedelta(minutes=5)))

    assert messaging.deliver_pending() == DeliverResult(delivered=0, failed=0)
    now[0] = T0 + timedelta(minutes=5)
    assert messaging.deliver_pending() == DeliverResult(delivered=1, failed=0)
    assert len(channel.sent) == 1


def test_concurrent_deliverers_send_each_message_once(
    session_factory: sessionmaker[Session],
) -> None:
    channel = FakeChannel(delay=0.02)
    keys = [key for seq in range(4) for key in queue(session_factory, CASE, seq, "customer", "x")]
    deliverers = [MessagingActivities(session_factory, {}, channel) for _ in range(4)]
    barrier = threading.Barrier(len(deliverers))
    results: list[DeliverResult] = []

    def deliver(messaging: MessagingActivities, index: int) -> None:
        barrier.wait()
        if index % 2:
            results.append(messaging.deliver_pending())
        else:
            results.append(messaging.deliver_outbox(DeliverInput(case_id=CASE)))

    threads = [threading.Thread(target=deliver, args=(m, i)) for i, m in enumerate(deliverers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Whatever a pass held back (another deliverer had it) is there for the next one.
    results.append(deliverers[0].deliver_pending())

    assert sorted(channel.keys) == sorted(keys)
    assert sum(r.delivered for r in results) == len(keys)
    assert all(row.status == "delivered" for row in outbox(session_factory))


def test_console_channel_prints_no_params() -> None:
    stream = io.StringIO()
    ConsoleChannel(stream).send(
        Envelope(f"{CASE}:0:0", CASE, "customer", "acknowledged", SECRET_PARAMS)
    )
    assert stream.getvalue() == (f"→ customer: acknowledged (case {CASE}, key {CASE}:0:0)\n")


def test_delivery_leaves_no_params_in_output_or_logs(
    session_factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue(session_factory, CASE, 0, "customer", "supervisor")
    failing = FakeChannel(failures=-1)
    with caplog.at_level(logging.DEBUG):
        messaging = MessagingActivities(session_factory, {"supervisor": failing}, ConsoleChannel())
        assert messaging.deliver_outbox(DeliverInput(case_id=CASE)) == DeliverResult(
            delivered=1, failed=1
        )

    printed = capsys.readouterr().out
    assert printed == f"→ customer: t0 (case {CASE}, key {CASE}:0:0)\n"
    assert f"{CASE}:0:1" in caplog.text  # the failure is logged, by key
    for value in SECRET_PARAMS.values():
        assert value not in printed and value not in caplog.text
