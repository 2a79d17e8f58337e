"""The outbox sweep with several workers, on SQLite and PostgreSQL (see ``database_url``):
each message once and in order per recipient, and a page of held messages starves nothing."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from activities.inputs import DeliverResult
from activities.messaging import MessagingActivities
from activities.storage import OutboxRow
from tests.test_messaging import T0, FakeChannel, queue


def test_held_messages_do_not_fill_a_sweeps_page(session_factory: sessionmaker[Session]) -> None:
    now = [T0]
    channel = FakeChannel()
    messaging = MessagingActivities(session_factory, {}, channel, clock=lambda: now[0])
    held = [*queue(session_factory, "complaint-1", 0, "customer", "customer")]
    held += queue(session_factory, "complaint-2", 0, "customer")
    free = queue(session_factory, "complaint-3", 0, "customer")
    # The first message of cases 1 and 2 waits out a backoff: they hold back what follows.
    claimed = OutboxRow.idempotency_key.in_([held[0], held[2]])
    with session_factory.begin() as session:
        session.execute(update(OutboxRow).where(claimed).values(claimed_until=T0 + timedelta(1)))

    assert messaging.deliver_pending(limit=1) == DeliverResult(delivered=1, failed=0)
    assert channel.keys == free
    assert messaging.deliver_pending(limit=1) == DeliverResult(delivered=0, failed=0)
    now[0] = T0 + timedelta(days=1)
    assert messaging.deliver_pending(limit=10) == DeliverResult(delivered=3, failed=0)
    assert channel.keys == [*free, *held]


def test_two_sweepers_deliver_each_message_once_and_in_order(
    session_factory: sessionmaker[Session],
) -> None:
    keys = [
        key
        for case in range(20)
        for seq in range(2)
        for key in queue(session_factory, f"complaint-{case}", seq, "customer", "supervisor")
    ]
    channel = FakeChannel(delay=0.002)
    sweepers = [MessagingActivities(session_factory, {}, channel, lease=timedelta(minutes=5))]
    sweepers.append(MessagingActivities(session_factory, {}, channel, lease=timedelta(minutes=5)))
    barrier = threading.Barrier(len(sweepers))
    delivered: list[int] = []

    def sweep(messaging: MessagingActivities) -> None:
        barrier.wait()
        while (result := messaging.deliver_pending(limit=15)).delivered or result.failed:
            delivered.append(result.delivered)

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A pass that found everything claimed by the other ends its loop: one more sweep.
    delivered.append(sweepers[0].deliver_pending(limit=len(keys)).delivered)

    sent = Counter(channel.keys)
    assert sorted(sent) == sorted(keys) and set(sent.values()) == {1}
    assert sum(delivered) == len(keys)
    for case in range(20):  # each recipient's messages in the order the case queued them
        for recipient_index in (0, 1):
            mine = [k for k in channel.keys if k.startswith(f"complaint-{case}:")]
            mine = [k for k in mine if k.endswith(f":{recipient_index}")]
            assert mine == sorted(mine, key=lambda k: int(k.split(":")[1]))
