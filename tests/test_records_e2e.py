"""Case records end to end on a real Temporal server and both databases: case numbers, the
``reassign`` command moving a departing employee's open cases, ``verify`` and ``report``."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from activities.storage import AssignmentRow, get_case, list_events
from process.compiler import CompiledSpec
from service import records_cli
from service.cases import Kesu, KesuError
from starter import build_parser
from tests.temporal_support import Harness, running_harness

pytestmark = pytest.mark.temporal

LEAVING, SUCCESSOR, OTHER = "陈静", "李娜", "王五"
AGENT, SUPERVISOR = ("王敏", ["agent"]), ("李强", ["supervisor"])


async def run(h: Harness, database_url: str, specs: dict[str, CompiledSpec], *argv: str) -> Any:
    @contextlib.asynccontextmanager
    async def open_kesu() -> AsyncIterator[Kesu]:
        yield h.kesu

    out = io.StringIO()
    reporting = {name: spec.definition.reporting for name, spec in specs.items()}
    code = await records_cli.run(
        build_parser().parse_args(argv), database_url, reporting, open_kesu, out
    )
    return code, out.getvalue()


async def open_assigned(h: Harness, process: str, key: str, assignee: str | None) -> str:
    case = (
        await h.kesu.start_case(process, {"customer_id": "C-1"}, key=key, roles=["agent"])
    ).case_id
    if process == "bank_complaint":
        data = {"assignee": assignee}
        await h.kesu.send_event(case, "accept", actor=AGENT[0], roles=AGENT[1], data=data)
    elif assignee is not None:
        await h.kesu.send_event(case, "accept", actor=AGENT[0], roles=AGENT[1])
        data = {"assignee": assignee}
        await h.kesu.send_event(case, "assign", actor=SUPERVISOR[0], roles=SUPERVISOR[1], data=data)
    return case


async def test_reassign_verify_and_report(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    specs: dict[str, CompiledSpec],
    unique_key: str,
) -> None:
    async with running_harness(temporal_env.client, database_url, specs) as h:
        first = await open_assigned(h, "complaint", f"{unique_key}-1", LEAVING)
        second = await open_assigned(h, "complaint", f"{unique_key}-2", LEAVING)
        others = await open_assigned(h, "complaint", f"{unique_key}-3", OTHER)
        closed = await open_assigned(h, "bank_complaint", f"{unique_key}-4", LEAVING)
        await h.kesu.send_event(closed, "withdraw", actor="customer", roles=["customer"])
        stale = await open_assigned(h, "complaint", f"{unique_key}-5", OTHER)
        # The records say 陈静 has it, the case itself says 王五: that case fails, alone.
        with h.sessions.begin() as session:
            session.execute(
                text("UPDATE kesu_case SET assignee = :who WHERE case_id = :case"),
                {"who": LEAVING, "case": stale},
            )

        argv = ("reassign", "--from", LEAVING, "--to", SUCCESSOR, "--reason", "离职 left")
        code, shown = await run(h, database_url, specs, *argv)
        assert code == 1, shown
        assert "3 open case(s) of 陈静 → 李娜" in shown
        assert "FAILED  " in shown and f"{stale}: reassigning case {stale}" in shown
        assert "2 moved, 1 failed" in shown

        with h.sessions() as session:
            for case in (first, second):
                row = get_case(session, case)
                assert row is not None and row.assignee == SUCCESSOR
                assert re.fullmatch(r"CP-\d{4}-\d{6}", row.case_number)
                last = list_events(session, case)[-1]
                assert (last.event, last.actor) == ("case.reassigned", "starter")
                assert "reason: 离职 left" in last.notes
                moves = session.query(AssignmentRow).filter_by(case_id=case).all()
                assert [(m.previous, m.assignee) for m in moves] == [
                    (None, LEAVING),
                    (LEAVING, SUCCESSOR),
                ]
            row = get_case(session, others)
            assert row is not None and row.assignee == OTHER
            row = get_case(session, closed)
            assert row is not None and row.assignee == LEAVING and row.case_number.startswith("BC-")

        # Run again: the moved cases are no longer 陈静's; only the stale one is tried again.
        code, shown = await run(h, database_url, specs, *argv)
        assert "1 open case(s)" in shown and "0 moved, 1 failed" in shown

        code, shown = await run(h, database_url, specs, "verify")
        assert code == 0 and "ok  5 case(s)" in shown, shown
        with h.sessions.begin() as session:
            session.execute(
                text("UPDATE kesu_case_event SET actor = 'x' WHERE case_id = :case AND seq = 1"),
                {"case": first},
            )
        code, shown = await run(h, database_url, specs, "verify")
        assert code == 1 and "TAMPERED CP-" in shown and "seq 1 edited" in shown

        number = records_cli.case_number(database_url, first)
        assert number is not None and number.startswith("CP-")
        code, shown = await run(h, database_url, specs, "report", "--process", "complaint")
        assert code == 0 and shown.startswith("complaint\n  opened 4, closed 0"), shown
        code, shown = await run(h, database_url, specs, "report", "--csv", "--by", "team")
        assert shown.splitlines()[0].startswith("process,team,opened,closed")


async def test_records_commands_explain_a_missing_database(
    database_url: str, specs: dict[str, CompiledSpec]
) -> None:
    args = build_parser().parse_args(["verify"])

    @contextlib.asynccontextmanager
    async def no_temporal() -> AsyncIterator[Kesu]:
        raise AssertionError("verify needs no Temporal")
        yield

    with pytest.raises(KesuError, match="no kesu tables yet"):
        await records_cli.run(args, database_url, {}, no_temporal)
    out = io.StringIO()
    assert (
        await records_cli.run(
            build_parser().parse_args(["migrate"]), database_url, {}, no_temporal, out
        )
        == 0
    )
    assert await records_cli.run(args, database_url, {}, no_temporal, out) == 0
    assert "ok  0 case(s)" in out.getvalue()
