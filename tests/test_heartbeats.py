"""``record_step`` heartbeats while it runs: Temporal gives the step of a worker that died to
another worker within the short heartbeat timeout, not after the whole start-to-close timeout
(the time a step's messages waited after a worker crash)."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.inputs import OutboxMessage, StepRecord
from activities.lease import heartbeating
from activities.storage import StorageActivities
from tests.test_storage import make_step


def test_a_step_being_stored_heartbeats(session_factory: sessionmaker[Session]) -> None:
    beat = threading.Event()
    environment = ActivityEnvironment()
    environment.on_heartbeat = lambda *details: beat.set()

    def slow_database(step: StepRecord) -> list[OutboxMessage]:
        # Runs inside record_step, as a slow write would: it ends once a heartbeat was sent.
        assert beat.wait(timeout=60), "record_step sent no heartbeat while it ran"
        return []

    activities = StorageActivities(session_factory, events=slow_database)
    recorded = environment.run(activities.record_step, make_step(0))
    assert recorded.created and beat.is_set()


def test_heartbeating_outside_an_activity_does_nothing() -> None:
    with heartbeating(0.01):
        threading.Event().wait(0.05)  # no activity context: no heartbeat, no error
