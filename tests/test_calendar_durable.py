"""Business clocks past a calendar's end and calendar updates, on a real Temporal dev server
with virtual time: a provisional due time breaches, a published year re-targets open cases."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.storage import list_events
from process.calendars import CalendarSpec, Covers
from process.compiler import CompiledSpec, compile_definition
from process.recalendar import change_reason
from service.calendars import Published, publish_calendar
from service.cases import Kesu
from tests.temporal_support import Harness, running_harness, sqlite_url
from workflows import search
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal

SHANGHAI = ZoneInfo("Asia/Shanghai")
HISTORIES = Path(__file__).parent / "histories"


def handle(h: Harness, case_id: str) -> WorkflowHandle[Any, Any]:
    return h.client.get_workflow_handle_for(CaseWorkflow.run, case_id)


def ending(calendar: CalendarSpec, last: date) -> CalendarSpec:
    """The calendar as if its known dates ended on ``last`` (whatever today's date is)."""
    return calendar.model_copy(update={"covers": Covers(first=calendar.covers.first, last=last)})


def with_calendar(
    specs: dict[str, CompiledSpec], calendar: CalendarSpec
) -> dict[str, CompiledSpec]:
    """The specs compiled again with ``calendar``: a new content hash, so the worker's
    definition cache never mixes them up with the shipped ones."""
    return {
        name: compile_definition(spec.definition, {**spec.calendars, calendar.calendar: calendar})
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
        case = (
            await h.kesu.start_case("bank_complaint", {"customer_id": "C-9"}, roles=["agent"])
        ).case_id
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


def with_holiday(calendar: CalendarSpec, last: date, holiday: date) -> CalendarSpec:
    """MADE-UP TEST DATA: the calendar extended to ``last`` with one invented holiday."""
    extended = ending(calendar, last)
    holidays = {**calendar.holidays, holiday: "测试假日 test holiday (invented)"}
    return extended.model_copy(update={"holidays": holidays})


async def test_publishing_a_new_year_retargets_an_open_case(
    time_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    short = ending(specs["bank_complaint"].calendars["cn-workdays"], yesterday())
    running = with_calendar(specs, short)
    async with running_harness(time_env.client, sqlite_url(tmp_path), running) as h:
        case = (
            await h.kesu.start_case("bank_complaint", {"customer_id": "C-10"}, roles=["agent"])
        ).case_id
        before = (await h.kesu.get_case(case)).state.clocks["acknowledge"]
        assert before.due_at is not None and before.provisional is not None
        # The published year makes the provisional due day a holiday: the due time moves a day
        # (or more, past a weekend) and is no longer provisional.
        due_day = before.due_at.astimezone(SHANGHAI).date()
        published = with_holiday(short, yesterday() + timedelta(days=400), due_day)
        h.kesu = Kesu(h.client, with_calendar(specs, published), h.task_queue)
        # Only this test's case: the shared server holds other tests' cases, without workers.
        report = await publish_calendar(h.kesu, published, "运维 ops", [case])
        assert list(report.updated) == [case] and not report.refused
        view = await h.kesu.get_case(case)
        step = view.state.steps[-1]
        assert step.event == "calendar.updated" and step.actor == "运维 ops"
        why = change_reason(short, published)  # "…: dates to <last> (was to <yesterday>)"
        assert step.notes[0] == why
        after = view.state.clocks["acknowledge"]
        assert after.due_at is not None and after.due_at > before.due_at
        assert after.provisional is None
        assert step.notes[1].startswith("acknowledge due ") and step.notes[1].endswith(f"({why})")
        assert "PROVISIONAL" in step.notes[1].split(" → ")[0]
        assert await publish_calendar(h.kesu, published, "运维 ops", [case]) == Published(
            calendar="cn-workdays", unchanged=1
        )
        with h.sessions() as session:
            assert [row.event for row in list_events(session, case)][-1] == "calendar.updated"
        # The breach comes at the new due time, not the provisional one.
        assert await time_env.fast_forward(
            handle(h, case), after.due_at - view.state.opened_at + timedelta(minutes=1)
        )
        view = await h.kesu.get_case(case)
        assert view.state.steps[-1].event == "deadline.breached:acknowledge"
        assert view.state.clocks["acknowledge"].breached_at == after.due_at
        if os.environ.get("KESU_RECORD_HISTORIES"):
            history = await handle(h, case).fetch_history()
            (HISTORIES / "bank_complaint_calendar_update.json").write_text(
                history.to_json(), encoding="utf-8"
            )
            (HISTORIES / "bank_complaint_calendar_update.definitions.json").write_text(
                f"[{running['bank_complaint'].model_dump_json()}]", encoding="utf-8"
            )
