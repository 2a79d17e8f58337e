"""Business clocks past a calendar's end and calendar updates, on a real Temporal dev server
with virtual time: a provisional due time breaches, a published year re-targets open cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.storage import list_events
from process.calendars import CalendarSpec, Covers
from process.compiler import CompiledSpec
from tests.temporal_support import Harness, running_harness, sqlite_url
from workflows import search
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal

SHANGHAI = ZoneInfo("Asia/Shanghai")


def handle(h: Harness, case_id: str) -> WorkflowHandle[Any, Any]:
    return h.client.get_workflow_handle_for(CaseWorkflow.run, case_id)


def ending(calendar: CalendarSpec, last: date) -> CalendarSpec:
    """The calendar as if its known dates ended on ``last`` (whatever today's date is)."""
    return calendar.model_copy(update={"covers": Covers(first=calendar.covers.first, last=last)})


def with_calendar(
    specs: dict[str, CompiledSpec], calendar: CalendarSpec
) -> dict[str, CompiledSpec]:
    return {
        name: spec.model_copy(update={"calendars": {**spec.calendars, calendar.calendar: calendar}})
        if calendar.calendar in spec.calendars
        else spec
        for name, spec in specs.items()
    }


def yesterday() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date() - timedelta(days=1)


async def test_a_clock_past_the_calendar_is_provisional_and_breaches_on_time(
    time_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    short = ending(specs["bank_complaint"].calendars["cn-workdays"], yesterday())
    async with running_harness(
        time_env.client, sqlite_url(tmp_path), with_calendar(specs, short)
    ) as h:
        case = (await h.kesu.start_case("bank_complaint", {"customer_id": "C-9"})).case_id
        view = await h.kesu.get_case(case)
        clock = view.state.clocks["acknowledge"]
        due = clock.due_at
        assert due is not None and clock.provisional is not None
        assert "calendar 'cn-workdays' covers" in clock.provisional
        assert "PROVISIONAL" in view.state.steps[0].notes[0]
        assert await time_env.fast_forward(
            handle(h, case), due - view.state.opened_at + timedelta(minutes=1)
        )
        view = await h.kesu.get_case(case)
        assert view.state.steps[-1].event == "deadline.breached:acknowledge"
        assert "PROVISIONAL" in view.state.steps[-1].notes[0]
        assert view.state.clocks["acknowledge"].breached_at == due
        with h.sessions() as session:
            assert [row.event for row in list_events(session, case)][-1] == (
                "deadline.breached:acknowledge"
            )
        # What 'list' shows: the case is breached and its due time provisional.
        attributes = (await handle(h, case).describe()).typed_search_attributes
        assert attributes.get(search.BREACHED) is True
        assert attributes.get(search.PROVISIONAL) is True
