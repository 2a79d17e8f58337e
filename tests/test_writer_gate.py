"""A burst of steps written from many threads at once (deadlines breached together): on SQLite
they take turns on the writer gate instead of in SQLite's busy handler; on PostgreSQL they go
ahead together. Either way each step is stored once, and a retry of one changes nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import CaseEventRow, StorageActivities
from tests.test_storage import make_step

CASES = 40


def test_a_burst_of_steps_from_many_threads_is_stored_once_each(
    session_factory: sessionmaker[Session],
) -> None:
    activities = StorageActivities(session_factory)
    steps = [make_step(0, case_id=f"C-{index}") for index in range(CASES)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        first = list(pool.map(activities.record_step, steps))
        again = list(pool.map(activities.record_step, steps))  # retries: already stored
    assert all(recorded.created for recorded in first)
    assert not any(recorded.created for recorded in again)
    with session_factory() as session:
        stored = session.scalar(select(func.count()).select_from(CaseEventRow))
    assert stored == CASES
