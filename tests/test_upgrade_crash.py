"""An upgrade interrupted half-way (the worker killed with SIGKILL, the upgrading client gone)
and run again: every case ends on the new version, each moved exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Select, func, select
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.testing import WorkflowEnvironment

from activities.storage import CaseEventRow, CaseRow, make_engine, make_session_factory
from service.cases import Kesu
from service.versions import PublishedDefinitions
from tests.temporal_support import sqlite_url
from tests.test_worker_crash import kill, start_worker
from tests.versions_support import CLAIM_V1, CLAIM_V2, publish_folder, write_definitions

pytestmark = pytest.mark.temporal

CASES = 4


async def test_an_upgrade_rerun_after_a_crash_moves_each_case_once(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"kesu-upgrade-crash-{uuid.uuid4().hex[:8]}"
    database = sqlite_url(tmp_path)
    folder = write_definitions(tmp_path / "defs", CLAIM_V1)
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "KESU_DATABASE_URL": database,
        "KESU_TASK_QUEUE": queue,
        "KESU_DATA_DIR": str(tmp_path),
        "KESU_DEFINITIONS": str(folder),
    }
    starts = iter(range(1, 10))

    async def restart() -> subprocess.Popen[bytes]:
        return await start_worker(environment, tmp_path / f"worker-{next(starts)}.log")

    worker = await restart()  # publishes v1 as it starts
    engine = make_engine(database)
    sessions = make_session_factory(engine)
    registry = PublishedDefinitions(sessions)
    kesu = Kesu(temporal_env.client, {}, queue, registry)

    def count(query: Select[int]) -> int:
        with sessions() as session:
            return int(session.scalar(query) or 0)

    try:
        cases = []
        for index in range(CASES):
            case = (
                await kesu.start_case("claim", {"customer_id": f"C-{index}"}, roles=["agent"])
            ).case_id
            await kesu.send_event(case, "accept", actor="王敏", roles=["agent"])
            cases.append(case)
        # v2 is published while the worker runs: it fetches it without a restart.
        publish_folder(registry, write_definitions(folder, CLAIM_V2))
        stage_map = {"handling": "investigation"}
        first = asyncio.create_task(kesu.upgrade("claim", 1, 2, stage_map, actor="admin"))
        upgraded = select(func.count()).where(CaseEventRow.event == "case.upgraded")
        for _ in range(600):
            if count(upgraded) >= 1 or first.done():
                break
            await asyncio.sleep(0.05)
        kill(worker)  # half-way: the worker dies...
        first.cancel()  # ...and so does whoever ran the upgrade
        with contextlib.suppress(asyncio.CancelledError, WorkflowUpdateRPCTimeoutOrCancelledError):
            await first
        moved_before = count(upgraded)
        assert moved_before >= 1
        worker = await restart()
        again = await kesu.upgrade("claim", 1, 2, stage_map, actor="admin")
        assert all(move.problem is None for move in again.moves)
        assert len(again.moves) <= CASES - moved_before + 1  # the rest (and one in flight)
        for case in cases:
            view = await kesu.get_case(case)
            steps = [step.event for step in view.state.steps]
            assert steps.count("case.upgraded") == 1, (case, steps)
            assert (view.state.version, view.state.stage) == (2, "investigation")
    finally:
        kill(worker)
    try:
        for case in cases:
            per_case = select(func.count()).where(
                CaseEventRow.case_id == case, CaseEventRow.event == "case.upgraded"
            )
            assert count(per_case) == 1, case
        on_v2 = select(func.count()).where(CaseRow.version == 2, CaseRow.closed_at.is_(None))
        assert count(on_v2) == CASES
    finally:
        engine.dispose()
