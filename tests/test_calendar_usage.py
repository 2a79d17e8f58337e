"""``starter.py calendars``: each calendar with its coverage, the processes counting on it, and
the open cases and clocks (and stage timeouts in working days) that use it, on a real Temporal
dev server. The processes get names of their own: the server is shared with other tests."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from process.compiler import CompiledSpec, compile_definition
from process.loader import load_definition_text
from process.recalendar import calendar_hash
from service import calendars_cli
from service.calendars import CalendarUsage, calendar_usage
from service.cases import Kesu
from service.listing import CaseFilter
from tests.temporal_support import running_harness, sqlite_url
from tests.test_clock_origins import letters
from tests.test_stage_timeouts import DEFINITION, china

pytestmark = pytest.mark.temporal

CALENDARS = Path(__file__).parent.parent / "definitions" / "calendars"


def named(text: str, process: str) -> CompiledSpec:
    calendars = {"cn-workdays": china()}
    text = text.replace("process: letters", f"process: {process}")
    text = text.replace("process: waits", f"process: {process}")
    return compile_definition(load_definition_text(text, "p.yaml", calendars), calendars)


async def listed(kesu: Kesu, process: str, running: int) -> None:
    """Wait until the server's visibility lists ``running`` open cases of ``process``."""
    for _ in range(200):
        rows = await kesu.list_cases(CaseFilter(process=process))
        if sum(row.running for row in rows) == running:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{process}: visibility never listed {running} open cases")


async def test_calendars_lists_coverage_processes_and_open_clocks(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = uuid.uuid4().hex[:8]
    clocked, timed = f"letters_{tag}", f"waits_{tag}"
    specs = {
        clocked: named(letters(), clocked),
        timed: named(DEFINITION.format(after="3wd", extra=""), timed),
    }
    async with running_harness(temporal_env.client, sqlite_url(tmp_path), specs) as h:
        kesu = h.kesu
        await kesu.start_case(clocked, {}, roles=["agent"])
        closed = (await kesu.start_case(clocked, {}, roles=["agent"])).case_id
        await kesu.send_event(closed, "close", roles=["agent"])
        waiting = (await kesu.start_case(timed, {}, roles=["agent"])).case_id
        await kesu.send_event(waiting, "ask", roles=["agent"])
        await kesu.start_case(timed, {}, roles=["agent"])  # no clock, no timeout in 'open'
        await listed(kesu, clocked, 1)
        await listed(kesu, timed, 2)

        folder = tmp_path / "calendars"
        folder.mkdir()
        text = (CALENDARS / "cn-workdays.yaml").read_text(encoding="utf-8")
        (folder / "cn-workdays.yaml").write_text(text, encoding="utf-8")
        spare = text.replace("calendar: cn-workdays", "calendar: spare")
        (folder / "spare.yaml").write_text(spare, encoding="utf-8")

        usages = await calendar_usage(kesu, {"cn-workdays": china()})
        assert usages == [
            CalendarUsage(calendar=china(), processes=sorted([clocked, timed]), open_cases=2,
                          open_clocks=2)
        ]  # fmt: skip

        @asynccontextmanager
        async def open_kesu() -> AsyncIterator[Kesu]:
            yield kesu

        args = argparse.Namespace(calendars_action=None)
        assert await calendars_cli.run(args, folder, open_kesu) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["calendar", "covers", "open", "cases", "open", "clocks",
                                    "processes"]  # fmt: skip
        rows = {line.split()[0]: line for line in lines[1:]}
        assert list(rows) == ["cn-workdays", "spare"]
        assert rows["cn-workdays"].split() == [
            "cn-workdays", "2004-01-01", "to", "2026-12-31", "2", "2",
            f"{clocked},", timed,
            f"({calendar_hash(china())[:12]})",
        ]  # fmt: skip
        assert rows["spare"].split()[4:7] == ["0", "0", "-"]
