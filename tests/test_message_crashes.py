"""Messages while workers are killed: every one arrives, soon, and a duplicate is recognisable.

A worker (``python worker.py``) sends every message of several cases to a webhook; it is
SIGKILLed again and again while cases move. Afterwards every queued message has reached the
receiver; a message sent twice (a worker died between sending and recording) carries the same
idempotency key and body as its first copy, so the receiver can drop it. The outbox sweep and
the short, renewed claim lease get a crashed worker's messages out in seconds: the test waits
a bounded time for them, far below the old five-minute lease.

Domain events go out with their step's own delivery: a worker without a sweep still sends a
``case.stage_changed`` at once.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.channels.config import ChannelSetup
from activities.storage import OutboxStatus, list_outbox, make_engine, make_session_factory
from process.compiler import CompiledSpec
from service.cases import Kesu
from tests.receivers import WEBHOOK_SECRET, Receiver
from tests.temporal_support import publish_specs, sqlite_url
from tests.test_worker_crash import kill, send_until_applied, start_worker
from worker import (
    ACTIVITY_THREADS,
    Activities,
    build_activities,
    build_worker,
    serving_definitions,
)

pytestmark = pytest.mark.temporal

CASES = 4
KILLS = 4


def channels_file(folder: Path, url: str) -> Path:
    path = folder / "channels.yaml"
    path.write_text(
        "default: hook\n"
        "routes: {events: hook}\n"
        "channels:\n"
        f"  hook: {{type: webhook, url: '{url}', secret_env: KESU_TEST_HOOK_SECRET}}\n",
        encoding="utf-8",
    )
    return path


async def walk(kesu: Kesu, case: str, step: int) -> None:
    """Move ``case`` one event further along a complaint's usual path."""
    agent: dict[str, object] = {"actor": "li", "roles": ["agent"]}
    handler: dict[str, object] = {"actor": "chen", "roles": ["handler"]}
    plan: list[tuple[str, dict[str, object], dict[str, object]]] = [
        ("accept", {}, agent),
        ("assign", {"assignee": "陈"}, agent),
        ("submit_plan", {"plan": "p"}, handler),
        ("propose", {"resolution": "r"}, handler),
    ]
    if step < len(plan):
        event, data, who = plan[step]
        await send_until_applied(kesu, case, event, f"{case}-{step}", data=data, **who)


async def test_messages_survive_worker_kills_once_per_key(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    specs: dict[str, CompiledSpec],
    webhook_receiver: tuple[Receiver, str],
) -> None:
    receiver, url = webhook_receiver
    queue = f"kesu-msgcrash-{uuid.uuid4().hex[:8]}"
    database = sqlite_url(tmp_path)
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "KESU_DATABASE_URL": database,
        "KESU_TASK_QUEUE": queue,
        "KESU_DATA_DIR": str(tmp_path),
        "KESU_CHANNELS": str(channels_file(tmp_path, url)),
        "KESU_TEST_HOOK_SECRET": WEBHOOK_SECRET.decode(),
    }
    starts = iter(range(1, 20))
    kesu = Kesu(temporal_env.client, specs, queue, wait=60)

    async def restart() -> object:
        return await start_worker(environment, tmp_path / f"worker-{next(starts)}.log")

    worker = await restart()
    try:
        cases = [
            (
                await kesu.start_case(
                    "complaint", {"customer_id": f"C-{n}"}, key=f"{queue}-{n}", roles=["agent"]
                )
            ).case_id
            for n in range(CASES)
        ]
        for step in range(KILLS):
            moving = asyncio.gather(*(walk(kesu, case, step) for case in cases))
            await asyncio.sleep(0.2 + 0.1 * step)
            kill(worker)  # type: ignore[arg-type]
            worker = await restart()
            await asyncio.wait_for(moving, timeout=180)
        sessions = make_session_factory(make_engine(database))
        outbox = []
        for _ in range(600):  # bounded: seconds, not the minutes a lost claim once took
            with sessions() as session:
                outbox = [row for case in cases for row in list_outbox(session, case)]
            if outbox and all(row.status == OutboxStatus.DELIVERED.value for row in outbox):
                break
            await asyncio.sleep(0.1)
    finally:
        kill(worker)  # type: ignore[arg-type]

    undelivered = [row.idempotency_key for row in outbox if row.status != "delivered"]
    assert not undelivered, f"never delivered: {undelivered}"
    first: dict[str, dict[str, object]] = {}
    copies: dict[str, int] = {}
    for headers, body in receiver.requests:
        key = headers["Idempotency-Key"]
        copies[key] = copies.get(key, 0) + 1
        # A duplicate is the same message under the same key: the receiver can drop it.
        assert first.setdefault(key, body) == body, key
    keys = {row.idempotency_key for row in outbox}
    assert keys == set(first), "every queued message arrived, and nothing else"
    assert any(row.template == "case.stage_changed" for row in outbox)
    delays = sorted(
        (row.delivered_at - row.created_at).total_seconds()
        for row in outbox
        if row.delivered_at is not None
    )
    duplicates = sum(count - 1 for count in copies.values())
    p95 = statistics.quantiles(delays, n=20)[-1] if len(delays) > 1 else delays[0]
    print(
        f"{len(outbox)} messages, {duplicates} duplicates, delay median "
        f"{statistics.median(delays):.1f} s, p95 {p95:.1f} s, max {delays[-1]:.1f} s"
    )


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: object) -> None:
        self.sent.append(getattr(message, "template", ""))


async def test_domain_events_go_out_with_their_step(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    recorder = Recorder()
    setup = ChannelSetup(routes={"events": recorder}, default=recorder, events=True)
    activities = build_activities(sqlite_url(tmp_path), setup)
    publish_specs(activities.sessions, specs.values())  # as a worker does at start
    queue = f"kesu-events-{uuid.uuid4().hex[:8]}"
    kesu = Kesu(temporal_env.client, specs, queue)
    # A worker without the outbox sweep: only the step's own delivery can send anything.
    async with sweepless(temporal_env, queue, activities):
        case = (await kesu.start_case("complaint", {"customer_id": "C-1"}, roles=["agent"])).case_id
        await kesu.send_event(case, "accept", actor="li", roles=["agent"])  # no notify of its own
        for _ in range(600):
            if "case.stage_changed" in recorder.sent:
                break
            await asyncio.sleep(0.05)
    assert recorder.sent.count("case.stage_changed") == 1, recorder.sent
    assert recorder.sent.count("case.opened") == 1


@asynccontextmanager
async def sweepless(
    temporal_env: WorkflowEnvironment, queue: str, activities: Activities
) -> AsyncIterator[None]:
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        async with (
            serving_definitions(activities.sessions),
            build_worker(temporal_env.client, queue, activities, executor),
        ):
            yield
