"""A long case on a real Temporal dev server: hundreds of events (notes, reassignments,
reopenings) over many runs of continue-as-new, with the bound of steps per run lowered so the
test stays short (``bench.long_case`` takes 5,000 events at the shipped bound). The case
answers queries, stores every step exactly once with contiguous numbers, answers an event
sent again with its id after a new run began as the first time, and its deadlines fire."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.storage import list_events
from bench.long_case import (
    ASSIGNEES,
    HANDLER,
    drive_long_case,
    open_long_case,
    runs_of,
)
from process.compiler import CompiledSpec
from process.events import BREACHED_EVENT_PREFIX, REASSIGNED_EVENT
from process.state import EventResult
from tests.temporal_support import Harness, running_harness, sqlite_url
from workflows.case import ANSWERS_KEPT, STEPS_KEPT, CaseWorkflow

pytestmark = pytest.mark.temporal

STEPS_PER_RUN = 60
NOTES = 8
"""Notes sent at once in each cycle: a run may overrun its bound by those still in flight."""
EVENTS = 300
HISTORIES = Path(__file__).parent / "histories"


async def test_a_long_case_continues_as_new_and_stays_correct(
    time_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> None:
    async with running_harness(time_env.client, sqlite_url(tmp_path), specs) as h:
        kesu = h.kesu
        case = await open_long_case(kesu, h.client, h.task_queue, STEPS_PER_RUN)
        handle = h.client.get_workflow_handle_for(CaseWorkflow.run, case)
        first_run = (await handle.describe()).run_id

        async def note_once() -> EventResult:
            return await kesu.send_event(
                case, "submit_plan", data={"plan": "先核实"}, event_id="note-once",
                actor=HANDLER["actor"], roles=["handler"],
            )  # fmt: skip

        async def move_once() -> EventResult:
            return await kesu.reassign_case(
                case, ASSIGNEES[0], ASSIGNEES[1], actor="李强", request_id="move-once"
            )

        # Sent with ids in the first run, sent again (a caller that missed the answer) in a
        # later one: Temporal itself tells them apart only within a run.
        note = await note_once()
        moved = await move_once()
        await kesu.reassign_case(case, ASSIGNEES[1], ASSIGNEES[0], actor="李强")
        first = await drive_long_case(kesu, case, STEPS_PER_RUN + 2 * NOTES, NOTES)
        assert (await handle.describe()).run_id != first_run, "the case never continued as new"
        assert ANSWERS_KEPT > STEPS_PER_RUN + 2 * NOTES  # the first answers are still carried
        assert await note_once() == note
        # Refused if checked again (the case is no longer assigned as the move found it).
        assert await move_once() == moved
        rest = await drive_long_case(
            kesu, case, EVENTS - first.events, NOTES, tag="b", assignee=first.assignee
        )

        view = await kesu.get_case(case)
        state = view.state
        notes = 1 + first.notes + rest.notes
        reassignments = 2 + first.reassignments + rest.reassignments
        reopenings = first.reopenings + rest.reopenings
        # Opening, accept, assign, the note and both moves, then what each drive sent.
        steps = 6 + (first.events - 2) + (rest.events - 2)
        assert state.next_seq == steps
        assert state.fields["reopen_count"] == reopenings
        assert state.fields["assignee"] == rest.assignee
        assert state.stage == "handling"
        # The query carries only the latest steps, contiguous up to the last one.
        assert STEPS_KEPT <= len(state.steps) <= STEPS_KEPT + STEPS_PER_RUN + NOTES
        assert state.earlier_steps + len(state.steps) == steps
        assert [step.seq for step in state.steps] == list(range(state.earlier_steps, steps))
        assert view.allowed_events == ["submit_plan", "ask_customer", "escalate", "propose"]

        with h.sessions() as session:
            rows = list_events(session, case)
        assert [row.seq for row in rows] == list(range(steps)), "a step missing or twice"
        counted = Counter(row.event for row in rows)
        assert counted["submit_plan"] == notes
        assert counted[REASSIGNED_EVENT] == reassignments
        assert counted["dissatisfied"] == counted["propose"] == reopenings
        plans = [row.data["plan"] for row in rows if row.event == "submit_plan"]
        assert len(set(plans)) == len(plans)
        tail = [(row.seq, row.event, row.to_stage) for row in rows[state.earlier_steps :]]
        assert tail == [(step.seq, step.event, step.to_stage) for step in state.steps]

        runs = await runs_of(h.client, case)
        assert len(runs) >= EVENTS // (STEPS_PER_RUN + NOTES)
        assert all(run.continued for run in runs[:-1]) and not runs[-1].continued
        assert all(run.updates <= STEPS_PER_RUN + NOTES for run in runs)
        # What a new run starts with does not grow with the steps behind it.
        carried = [run.started_input_bytes for run in runs[1:]]
        assert max(carried[len(carried) // 2 :]) <= 1.5 * max(carried[: len(carried) // 2])

        # Deadlines still fire: the plan clock, restarted by the last reopening (48 h).
        plan = state.clocks["plan"]
        assert plan.due_at is not None and plan.due_at > state.steps[-1].at
        assert await time_env.fast_forward(handle, timedelta(hours=49))
        view = await kesu.get_case(case)
        breach = [step for step in view.state.steps if step.seq >= steps]
        assert breach[0].event == f"{BREACHED_EVENT_PREFIX}plan"
        assert view.state.stage == "escalation"  # the breach's {to: escalation}
        with h.sessions() as session:
            assert [row.seq for row in list_events(session, case)] == list(
                range(view.state.next_seq)
            )


async def test_events_sent_again_in_a_new_run_get_their_first_answer(harness: Harness) -> None:
    """Recorded (``KESU_RECORD_HISTORIES=1``): the run that continues as new at its bound of
    steps, and the next one, which answers the repeated events without a step."""
    h = harness
    case = await open_long_case(h.kesu, h.client, h.task_queue, steps_per_run=5)
    handle = h.client.get_workflow_handle_for(CaseWorkflow.run, case)
    first_run = (await handle.describe()).run_id
    note = await h.kesu.send_event(
        case, "submit_plan", data={"plan": "先核实"}, event_id="note-1", **HANDLER
    )
    moved = await h.kesu.reassign_case(
        case, ASSIGNEES[0], ASSIGNEES[1], actor="李强", request_id="move-1"
    )
    assert moved.seq == 4  # the fifth step: the bound of this case's runs
    for _ in range(100):  # the new run begins in the task that answered the move
        second_run = (await handle.describe()).run_id
        if second_run != first_run:
            break
        await asyncio.sleep(0.05)
    assert second_run != first_run, "the case did not continue as new after 5 steps"
    again = await h.kesu.send_event(
        case, "submit_plan", data={"plan": "先核实"}, event_id="note-1", **HANDLER
    )
    assert again == note
    assert await h.kesu.reassign_case(
        case, ASSIGNEES[0], ASSIGNEES[1], actor="李强", request_id="move-1"
    ) == moved  # fmt: skip
    later = await h.kesu.send_event(case, "submit_plan", data={"plan": "再核实"}, **HANDLER)
    assert later.seq == 5
    view = await h.kesu.get_case(case)
    assert view.state.next_seq == 6 and view.state.fields["assignee"] == ASSIGNEES[1]
    with h.sessions() as session:
        rows = list_events(session, case)
    assert [row.seq for row in rows] == list(range(6))
    assert [row.event for row in rows].count("submit_plan") == 2
    if os.environ.get("KESU_RECORD_HISTORIES"):
        spec = h.kesu.spec("complaint")
        for name, run_id in (("first", first_run), ("second", second_run)):
            history = await h.client.get_workflow_handle(case, run_id=run_id).fetch_history()
            path = HISTORIES / f"complaint_long_{name}_run.json"
            path.write_text(history.to_json(), encoding="utf-8")
            path.with_name(path.stem + ".definitions.json").write_text(
                f"[{spec.model_dump_json()}]", encoding="utf-8"
            )
