"""A stage timeout in working days on a real Temporal dev server with virtual time: past the
calendar's end it is provisional, a published year re-targets it, and it fires at the new time."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from process.calendars import CalendarSpec
from process.compiler import CompiledSpec, compile_definition
from process.loader import load_definition_text
from service.calendars import publish_calendar
from service.cases import Kesu
from tests.temporal_support import running_harness, sqlite_url
from tests.test_calendar_durable import (
    HISTORIES,
    SHANGHAI,
    ending,
    handle,
    with_holiday,
    yesterday,
)
from tests.test_stage_timeouts import DEFINITION, china
from workflows import search

pytestmark = pytest.mark.temporal


def waits(calendar: CalendarSpec) -> dict[str, CompiledSpec]:
    """A process whose 'waiting' stage closes the case after 3 working days."""
    calendars = {calendar.calendar: calendar}
    text = DEFINITION.format(after="3wd", extra="")
    return {"waits": compile_definition(load_definition_text(text, "w.yaml", calendars), calendars)}


async def test_a_provisional_timeout_is_retargeted_by_a_published_year_and_fires(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    short = ending(china(), yesterday())
    async with running_harness(time_env.client, sqlite_url(tmp_path), waits(short)) as h:
        case = (await h.kesu.start_case("waits", {}, roles=["agent"])).case_id
        await h.kesu.send_event(case, "ask", roles=["agent"])
        view = await h.kesu.get_case(case)
        before = view.timeout
        assert before is not None and before.calendar == "cn-workdays"
        assert before.provisional is not None and "covers" in before.provisional
        assert any("PROVISIONAL" in note for note in view.state.steps[-1].notes)
        attributes = (await handle(h, case).describe()).typed_search_attributes
        assert attributes.get(search.PROVISIONAL) is True
        # The published year makes the provisional due day a holiday: the timeout moves later.
        due_day = before.due_at.astimezone(SHANGHAI).date()
        published = with_holiday(short, yesterday() + timedelta(days=400), due_day)
        h.kesu = Kesu(h.client, waits(published), h.task_queue)
        report = await publish_calendar(h.kesu, published, "运维 ops", [case])
        assert list(report.updated) == [case] and not report.refused
        view = await h.kesu.get_case(case)
        step = view.state.steps[-1]
        assert step.event == "calendar.updated"
        assert step.notes[1].startswith("stage waiting timeout after 3wd due ")
        assert "PROVISIONAL" in step.notes[1].split(" → ")[0]
        after = view.timeout
        assert after is not None and after.due_at > before.due_at and after.provisional is None
        attributes = (await handle(h, case).describe()).typed_search_attributes
        assert attributes.get(search.PROVISIONAL) is False
        entered = view.state.stage_entered_at
        # Not at the old, provisional time...
        assert await time_env.fast_forward(
            handle(h, case), before.due_at - entered + timedelta(minutes=1)
        )
        assert (await h.kesu.get_case(case)).state.stage == "waiting"
        # ...but at the new one (the case closes, so the workflow ends before the skip does).
        await time_env.fast_forward(handle(h, case), after.due_at - before.due_at)
        view = await h.kesu.get_case(case)
        assert view.state.stage == "closed" and view.state.steps[-1].event == "timeout"
        assert view.state.steps[-1].at >= after.due_at
        assert view.timeout is None
        if os.environ.get("KESU_RECORD_HISTORIES"):
            history = await handle(h, case).fetch_history()
            (HISTORIES / "waits_timeout_retargeted.json").write_text(
                history.to_json(), encoding="utf-8"
            )
            (HISTORIES / "waits_timeout_retargeted.definitions.json").write_text(
                f"[{waits(short)['waits'].model_dump_json()}]", encoding="utf-8"
            )
