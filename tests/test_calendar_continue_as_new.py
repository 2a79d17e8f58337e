"""Published calendars survive continue-as-new: a long case that starts a new run keeps the
calendar published to it, not the one it was opened with (real Temporal dev server, told to
suggest continue-as-new after a few history events)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from process.calendars import CalendarSpec
from process.compiler import CompiledSpec, compile_definition
from process.loader import load_definition_text
from service.calendars import Published, publish_calendar
from service.cases import Kesu
from tests.temporal_support import _binary, running_harness, sqlite_url
from tests.test_calendar_durable import ending, handle, with_holiday, yesterday
from tests.test_clock_origins import letters
from tests.test_stage_timeouts import china
from workflows import search

pytestmark = pytest.mark.temporal

SUGGEST_AFTER = 40
"""History events after which the server suggests continuing as new (4096 by default)."""


@pytest_asyncio.fixture(scope="module")
async def short_history_env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary(),
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER}",
        ],
        data_converter=pydantic_data_converter,
        search_attributes=search.ALL,
    ) as env:
        yield env


def letters_on(calendar: CalendarSpec) -> dict[str, CompiledSpec]:
    calendars = {calendar.calendar: calendar}
    definition = load_definition_text(letters(), "l.yaml", calendars)
    return {"letters": compile_definition(definition, calendars)}


async def test_a_published_calendar_is_kept_across_continue_as_new(
    short_history_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    short = ending(china(), yesterday())
    env = short_history_env
    async with running_harness(env.client, sqlite_url(tmp_path), letters_on(short)) as h:
        case = (await h.kesu.start_case("letters", {}, roles=["agent"])).case_id
        first_run = (await handle(h, case).describe()).run_id
        opened = (await h.kesu.get_case(case)).state.clocks["answer"]
        assert opened.due_at is not None
        published = with_holiday(
            short, yesterday() + timedelta(days=400), opened.due_at.date() + timedelta(days=1)
        )
        h.kesu = Kesu(h.client, letters_on(published), h.task_queue)
        report = await publish_calendar(h.kesu, published, "运维 ops", [case])
        assert list(report.updated) == [case]
        due = (await h.kesu.get_case(case)).state.clocks["answer"].due_at
        # Steps until the server suggests a new run and the case takes it.
        run = first_run
        for _ in range(SUGGEST_AFTER):
            await h.kesu.send_event(case, "receive", roles=["agent"], data={})
            run = (await handle(h, case).describe()).run_id
            if run != first_run:
                break
        assert run != first_run, "the case never continued as new"
        view = await h.kesu.get_case(case)
        clock = view.state.clocks["answer"]
        assert any(step.event == "calendar.updated" for step in view.state.steps)
        assert clock.due_at == due
        assert clock.provisional is not None and "received_at is empty" in clock.provisional
        assert "covers" not in clock.provisional  # counted on the published calendar
        # The new run counts on the published calendar: a due time computed now is exact.
        received = yesterday().isoformat()
        await h.kesu.send_event(case, "receive", roles=["agent"], data={"received_at": received})
        clock = (await h.kesu.get_case(case)).state.clocks["answer"]
        assert clock.due_at is not None and clock.provisional is None
        # Publishing it again changes nothing: the case has it.
        assert await publish_calendar(h.kesu, published, "运维 ops", [case]) == Published(
            calendar="cn-workdays", unchanged=1
        )
        await h.kesu.send_event(case, "close", roles=["agent"])
        assert (await h.kesu.get_case(case)).state.closed_at is not None
