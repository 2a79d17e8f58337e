"""The API never hangs: a call that needs a worker waits a bounded time, then answers 503
with the reason (no worker polls the task queue, the step cannot be stored); ``/healthz``
reports the workers and the database.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from process.compiler import CompiledSpec
from service.cases import Kesu
from service.waiting import database_probe
from tests.api_support import AGENT, api_client
from tests.temporal_support import Harness, running_harness, sqlite_url
from tests.test_api import open_complaint, refused

pytestmark = pytest.mark.temporal

BODY = {"process": "complaint", "fields": {"customer_id": "C-1"}}


async def test_without_a_worker_every_call_answers_503_with_the_reason(
    harness: Harness, specs: dict[str, CompiledSpec], tmp_path: Path
) -> None:
    queue = f"kesu-nobody-{uuid.uuid4().hex[:8]}"  # no worker has ever polled it
    idle = Kesu(harness.client, specs, queue, wait=1)
    async with api_client(idle) as http:
        opened = await http.post("/cases", json={**BODY, "external_id": "w1"}, headers=AGENT)
        refused(opened, 503, f"no worker polls task queue {queue!r}", "sending the same key")
        case_id = "complaint-w1"
        detail = refused(
            await http.post(f"/cases/{case_id}/events/accept", headers=AGENT),
            503,
            f"case {case_id}: no answer within 1 s: no worker polls task queue {queue!r}",
            "it may still be applied: send it again with id",
        )
        event_id = detail.rsplit("with id ", 1)[1].strip("'")
        refused(await http.get(f"/cases/{case_id}", headers=AGENT), 503, "no worker polls")
        health = await http.get("/healthz")
        refused(health, 503, f"no worker polls task queue {queue!r}")
    # A worker on that queue takes the waiting case; the same key then finds it stored.
    worker = running_harness(harness.client, sqlite_url(tmp_path), specs, task_queue=queue)
    async with worker as running, api_client(running.kesu) as http:
        again = await http.post("/cases", json={**BODY, "external_id": "w1"}, headers=AGENT)
        assert (again.status_code, again.json()["created"]) == (200, False)
        # The accept sent into the void was kept: sent again with its id, it is applied once.
        resent = await http.post(
            f"/cases/{case_id}/events/accept", json={"event_id": event_id}, headers=AGENT
        )
        assert resent.status_code == 200 and resent.json()["seq"] == 1, resent.text
        view = (await http.get(f"/cases/{case_id}", headers=AGENT)).json()
        assert view["pending_steps"] == [] and view["stage"] == "triage"
        assert [step["event"] for step in view["timeline"]] == ["case.opened", "accept"]
        healthy = (await http.get("/healthz")).json()
        assert healthy["status"] == "ok" and healthy["workers"] >= 1


async def test_a_database_outage_is_503_naming_it_and_nothing_is_lost(
    harness: Harness, specs: dict[str, CompiledSpec], tmp_path: Path, unique_key: str
) -> None:
    kesu = Kesu(harness.client, specs, harness.task_queue, wait=15)
    async with api_client(kesu) as http:
        case_id = await open_complaint(http, f"outage-{unique_key}")
        blocker = sqlite3.connect(tmp_path / "kesu.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # the database takes no writes: an outage
        try:
            headers = {**AGENT, "Idempotency-Key": f"acc-{unique_key}"}
            waited = await http.post(f"/cases/{case_id}/events/accept", headers=headers)
            refused(
                waited,
                503,
                "the worker cannot store the step (attempt ",
                "is the database reachable?",
            )
            view = (await http.get(f"/cases/{case_id}", headers=AGENT)).json()
            assert view["pending_steps"] == [1]  # shown as pending, not as stored
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        again = await http.post(f"/cases/{case_id}/events/accept", headers=headers)
        assert again.status_code == 200 and again.json()["seq"] == 1, again.text
        view = (await http.get(f"/cases/{case_id}", headers=AGENT)).json()
        assert view["pending_steps"] == [] and view["stage"] == "triage"
        assert [step["event"] for step in view["timeline"]] == ["case.opened", "accept"]


async def test_healthz_reports_an_unreachable_database(
    harness: Harness, specs: dict[str, CompiledSpec], tmp_path: Path
) -> None:
    good = Kesu(
        harness.client, specs, harness.task_queue, database=database_probe(sqlite_url(tmp_path))
    )
    async with api_client(good) as http:
        body = (await http.get("/healthz")).json()
        assert body["database"] == "ok" and body["workers"] >= 1
    nowhere = database_probe("postgresql+psycopg://kesu@127.0.0.1:9/nowhere?connect_timeout=2")
    bad = Kesu(harness.client, specs, harness.task_queue, database=nowhere)
    async with api_client(bad) as http:
        refused(await http.get("/healthz"), 503, "database unreachable: OperationalError")
