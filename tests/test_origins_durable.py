"""A clock counting from a date field on a real Temporal dev server with virtual time: opened
with the field empty it is provisional; the event that sets it moves the due time, and the
breach comes at the time counted from the field."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.temporal_support import running_harness, sqlite_url
from tests.test_calendar_durable import HISTORIES, SHANGHAI, handle
from tests.test_clock_origins import spec

pytestmark = pytest.mark.temporal


async def test_setting_the_field_later_moves_the_due_time_and_the_breach_follows(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    letters = spec()
    async with running_harness(time_env.client, sqlite_url(tmp_path), {"letters": letters}) as h:
        case = (await h.kesu.start_case("letters", {}, roles=["agent"])).case_id
        before = (await h.kesu.get_case(case)).state.clocks["answer"]
        assert before.due_at is not None and before.provisional is not None
        assert before.provisional.startswith("received_at is empty: counted from ")
        received = datetime.now(UTC).astimezone(SHANGHAI).date() - timedelta(days=7)
        await h.kesu.send_event(
            case, "receive", roles=["agent"], data={"received_at": received.isoformat()}
        )
        view = await h.kesu.get_case(case)
        after = view.state.clocks["answer"]
        assert after.started_at is not None and after.due_at is not None
        assert after.started_at.astimezone(SHANGHAI).date() == received
        assert after.due_at < before.due_at
        assert after.provisional is None or "received_at" not in after.provisional
        assert (
            view.state.steps[-1]
            .notes[0]
            .startswith(f"answer counts from received_at ({received}): due ")
        )
        assert await time_env.fast_forward(
            handle(h, case), after.due_at - view.state.steps[-1].at + timedelta(minutes=1)
        )
        view = await h.kesu.get_case(case)
        assert view.state.steps[-1].event == "deadline.breached:answer"
        assert view.state.clocks["answer"].breached_at == after.due_at
        if os.environ.get("KESU_RECORD_HISTORIES"):
            history = await handle(h, case).fetch_history()
            (HISTORIES / "letters_counted_from_field.json").write_text(
                history.to_json(), encoding="utf-8"
            )
            (HISTORIES / "letters_counted_from_field.definitions.json").write_text(
                f"[{letters.model_dump_json()}]", encoding="utf-8"
            )
