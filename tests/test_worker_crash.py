"""A worker killed with SIGKILL in the middle of a case: restarted, nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.storage import list_events, list_outbox, make_engine, make_session_factory
from process.compiler import CompiledSpec
from service.cases import Kesu, KesuError
from tests.temporal_support import sqlite_url

pytestmark = pytest.mark.temporal

PROJECT = Path(__file__).parent.parent
READY = "kesu worker on task queue"


async def start_worker(environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python worker.py`` as an operator runs it; returns once it polls its task queue."""
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, str(PROJECT / "worker.py")],
            cwd=PROJECT,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        output = log.read_text(encoding="utf-8")
        if worker.poll() is not None:
            raise AssertionError(f"worker exited: {output}")
        if READY in output:
            return worker
        await asyncio.sleep(0.1)
    worker.kill()
    raise AssertionError(f"worker did not start: {log.read_text(encoding='utf-8')}")


def kill(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


async def send_until_applied(kesu: Kesu, case_id: str, event: str, event_id: str, **kw: object):  # type: ignore[no-untyped-def]
    """What a careful caller does: resend with the same event id until it is answered."""
    for _ in range(30):
        try:
            return await kesu.send_event(case_id, event, event_id=event_id, **kw)  # type: ignore[arg-type]
        except KesuError as error:
            if "not allowed" in str(error) or "requires" in str(error):
                raise
            await asyncio.sleep(1)
    raise AssertionError(f"{event} never applied")


async def test_a_worker_killed_mid_case_loses_nothing_and_repeats_nothing(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    queue = f"kesu-crash-{uuid.uuid4().hex[:8]}"
    database = sqlite_url(tmp_path)
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "KESU_DATABASE_URL": database,
        "KESU_TASK_QUEUE": queue,
        "KESU_DATA_DIR": str(tmp_path),
    }
    starts = iter(range(1, 10))

    async def restart() -> subprocess.Popen[bytes]:
        return await start_worker(environment, tmp_path / f"worker-{next(starts)}.log")

    kesu = Kesu(temporal_env.client, specs, queue)
    worker = await restart()
    try:
        case = (
            await kesu.start_case("complaint", {"customer_id": "C-9"}, key=queue, roles=["agent"])
        ).case_id
        await send_until_applied(kesu, case, "accept", "e1", actor="li", roles=["agent"])
        # Kill the worker while an event is on its way through it.
        in_flight = asyncio.create_task(
            send_until_applied(
                kesu, case, "assign", "e2", actor="li", roles=["agent"], data={"assignee": "陈"}
            )
        )
        await asyncio.sleep(0.3)
        kill(worker)
        worker = await restart()
        result = await asyncio.wait_for(in_flight, timeout=120)
        assert result.stage == "handling"
        # And once more while it sits idle between events.
        kill(worker)
        worker = await restart()
        handler = {"actor": "chen", "roles": ["handler"]}
        await send_until_applied(kesu, case, "submit_plan", "e3", data={"plan": "p"}, **handler)
        await send_until_applied(kesu, case, "propose", "e4", data={"resolution": "r"}, **handler)
        await send_until_applied(
            kesu, case, "satisfied", "e5", actor="c", roles=["customer"], data={"csat": 5}
        )
        await send_until_applied(
            kesu,
            case,
            "close",
            "e6",
            data={"responsibility": "customer", "root_cause": "客户误解"},
            **handler,
        )
        # A retried event after all that is still applied once.
        await send_until_applied(
            kesu,
            case,
            "close",
            "e6",
            data={"responsibility": "customer", "root_cause": "客户误解"},
            **handler,
        )
        view = await kesu.get_case(case)
    finally:
        kill(worker)

    assert view.state.stage == "closed"
    expected = ["case.opened", "accept", "assign", "submit_plan", "propose", "satisfied", "close"]
    assert [step.event for step in view.state.steps] == expected
    sessions = make_session_factory(make_engine(database))
    with sessions() as session:
        rows = list_events(session, case)
        outbox = list_outbox(session, case)
    assert [(row.seq, row.event) for row in rows] == list(enumerate(expected))
    keys = [message.idempotency_key for message in outbox]
    assert len(keys) == len(set(keys))
