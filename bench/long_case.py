"""A long case: one complaint taking 5,000 events, run after run of continue-as-new.

``python -m bench.long_case [--events N] [--notes K] [--steps-per-run S]``

One complaint is accepted and assigned, then goes round a cycle until it has taken N events:
K notes sent at once (``submit_plan``, a step that stays in ``handling``; Temporal takes at
most 10 updates in flight per workflow by default, so K stays below that), one reassignment,
and one reopening (``propose`` a resolution, the customer is ``dissatisfied``: back in
handling, its plan and resolution clocks restart). The case continues as new every S steps
(``workflows.case.STEPS_PER_RUN`` by default) or sooner when Temporal suggests it.

Printed per run of the workflow id: its history (events, bytes) and the state it was started
with (what continue-as-new carried). The baseline, measured in the same run on the same worker:
one short complaint (the six-event journey of ``bench.journey``), opened after the long case
is done. What should hold: a long case's history per step is that of the short case (no
step costs more because many came before it), the state carried into a run does not grow
from run to run, and the worker's memory stops growing once the case is a few runs long.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from activities.storage import list_events, make_engine, make_session_factory
from bench.common import Ratio, Report, Server, run_script, worker_process
from bench.journey import FIELDS, kesu_case, outbox_drained, unused_key
from bench.specs import complaint_spec
from process.state import CaseState, Step
from runtime import exit_after
from service.cases import Kesu
from workflows import search
from workflows.case import CaseInput, CaseWorkflow

MIB = 1024 * 1024


class Who(TypedDict):
    """Who sends an event: ``Kesu.send_event``'s ``actor`` and ``roles``."""

    actor: str
    roles: list[str]


HANDLER = Who(actor="陈静", roles=["handler"])
CUSTOMER = Who(actor="customer", roles=["customer"])
AGENT = Who(actor="王敏", roles=["agent"])
SUPERVISOR = Who(actor="李强", roles=["supervisor"])
ASSIGNEES = ("陈静", "刘洋")


@dataclass
class Drive:
    """What was sent to a long case, to check what it stored against."""

    case_id: str
    events: int = 0
    notes: int = 0
    reassignments: int = 0
    reopenings: int = 0
    assignee: str = ASSIGNEES[0]
    progress: list[tuple[int, Any]] = field(default_factory=list)
    """(events so far, what ``each`` returned) after every cycle, when ``each`` is given."""


async def open_long_case(
    kesu: Kesu, client: Client, task_queue: str, steps_per_run: int | None = None
) -> str:
    """Open a complaint with its own continue-as-new bound (``Kesu.start_case`` takes the
    default), accepted and assigned: in ``handling``, its clocks running."""
    spec = kesu.spec("complaint")
    case_id = f"complaint-long-{uuid.uuid4().hex[:10]}"
    await client.start_workflow(
        CaseWorkflow.run,
        CaseInput(
            case_id=case_id, definition=spec.content_hash, fields=dict(FIELDS), actor="web",
            steps_per_run=steps_per_run,
        ),
        id=case_id,
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(search.PROCESS, "complaint"),
                SearchAttributePair(search.STAGE, spec.definition.initial_stage),
            ]
        ),
    )  # fmt: skip
    await kesu.send_event(case_id, "accept", **AGENT)
    await kesu.send_event(case_id, "assign", data={"assignee": ASSIGNEES[0]}, **SUPERVISOR)
    return case_id


async def drive_long_case(
    kesu: Kesu,
    case_id: str,
    events: int,
    notes: int = 8,
    each: Callable[[Drive], Any] | None = None,
    tag: str = "",
    assignee: str = ASSIGNEES[0],
) -> Drive:
    """Send about ``events`` events (whole cycles) to a case in ``handling`` assigned to
    ``assignee``; ``tag`` tells the plans of one drive from another's."""
    drive = Drive(case_id=case_id, events=2, assignee=assignee)  # accept, assign
    cycle = 0
    while drive.events < events:
        cycle += 1
        batch = [
            kesu.send_event(
                case_id, "submit_plan", data={"plan": f"方案 {tag}{cycle}.{n}"}, **HANDLER
            )
            for n in range(notes)
        ]
        await asyncio.gather(*batch)
        drive.notes += notes
        following = ASSIGNEES[1] if drive.assignee == ASSIGNEES[0] else ASSIGNEES[0]
        await kesu.reassign_case(case_id, drive.assignee, following, actor="李强", reason="轮岗")
        drive.assignee = following
        drive.reassignments += 1
        await kesu.send_event(case_id, "propose", data={"resolution": f"结果 {cycle}"}, **HANDLER)
        await kesu.send_event(case_id, "dissatisfied", data={"csat": 1}, **CUSTOMER)
        drive.reopenings += 1
        drive.events += notes + 3
        if each is not None:
            drive.progress.append((drive.events, each(drive)))
    return drive


@dataclass(frozen=True)
class RunFigures:
    run_id: str
    events: int
    history_bytes: int
    started_input_bytes: int
    """The payload the run was started with: for a continued run, the state carried over."""
    updates: int
    continued: bool


def untrimmed_bytes(database_url: str, state: CaseState) -> int:
    """The size ``state`` would have with its whole timeline (as the stored steps), which is
    what a case carried into each new run before it kept only its latest steps."""
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            rows = list_events(session, state.case_id)
    finally:
        engine.dispose()
    timeline = [
        Step(
            seq=row.seq, at=row.at, event=row.event, from_stage=row.from_stage,
            to_stage=row.to_stage, actor=row.actor, role=row.role, data=row.data, notes=row.notes,
        )
        for row in rows
    ]  # fmt: skip
    whole = state.model_copy(update={"steps": timeline, "earlier_steps": 0})
    return len(whole.model_dump_json())


def run_figures(run_id: str, history: WorkflowHistory) -> RunFigures:
    first = history.events[0].workflow_execution_started_event_attributes
    updates = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    last = history.events[-1].event_type
    return RunFigures(
        run_id=run_id,
        events=len(history.events),
        history_bytes=sum(event.ByteSize() for event in history.events),
        started_input_bytes=sum(payload.ByteSize() for payload in first.input.payloads),
        updates=sum(1 for event in history.events if event.event_type == updates),
        continued=last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    )


async def runs_of(client: Client, case_id: str) -> list[RunFigures]:
    """Every run of the workflow id, oldest first, with the figures of its history."""
    executions = [
        execution
        async for execution in client.list_workflows(f"WorkflowId = '{case_id}'")
        if execution.status is not None
    ]
    executions.sort(key=lambda execution: execution.start_time)
    runs = []
    for execution in executions:
        handle = client.get_workflow_handle(case_id, run_id=execution.run_id)
        runs.append(run_figures(execution.run_id, await handle.fetch_history()))
    return runs


async def measure(
    server: Server,
    workdir: Path,
    *,
    events: int = 5000,
    notes: int = 8,
    steps_per_run: int | None = None,
) -> Report:
    database = f"sqlite:///{workdir / 'long.db'}"
    queue = f"bench-long-{uuid.uuid4().hex[:6]}"
    kesu = Kesu(server.client, {"complaint": complaint_spec()}, queue)
    async with worker_process("kesu", server, queue, database, workdir, [complaint_spec()]) as w:
        before = w.rss_bytes()
        case_id = await open_long_case(kesu, server.client, queue, steps_per_run)
        drive = await drive_long_case(
            kesu, case_id, events, notes, each=lambda _: w.rss_bytes() - before
        )
        await outbox_drained(database)
        after_long = w.rss_bytes()
        view = await kesu.get_case(case_id)
        view_bytes = len(view.model_dump_json())
        untrimmed = untrimmed_bytes(database, view.state)
        short_id = await kesu_case(kesu, unused_key("short"))
        await outbox_drained(database)
        after_short = w.rss_bytes()
        short_view = await kesu.get_case(short_id)
    runs = await runs_of(server.client, case_id)
    (short,) = await runs_of(server.client, short_id)
    report = Report(
        title=f"A long case: {drive.events} events ({drive.notes} notes, {drive.reassignments} "
        f"reassignments, {drive.reopenings} reopenings), {len(runs)} runs; baseline: one "
        "six-event complaint on the same worker",
        headers=["run", "history events", "history KiB", "steps", "bytes per step",
                 "started with KiB"],
    )  # fmt: skip
    steps_before = 0
    step_counts = []
    for index, run in enumerate(runs):
        # Every step of a run but the first few is an update (the rest: alarms, opening).
        steps = run.updates + (1 if index == 0 else 0)
        step_counts.append(steps)
        steps_before += steps
        report.rows.append(
            [
                str(index + 1), str(run.events), f"{run.history_bytes / 1024:.0f}", str(steps),
                f"{run.history_bytes / max(steps, 1):.0f}", f"{run.started_input_bytes / 1024:.1f}",
            ]
        )  # fmt: skip
    short_steps = short.updates + 1
    report.rows.append(
        [
            "short case", str(short.events), f"{short.history_bytes / 1024:.0f}",
            str(short_steps), f"{short.history_bytes / short_steps:.0f}",
            f"{short.started_input_bytes / 1024:.1f}",
        ]
    )  # fmt: skip
    growth = [rss for _, rss in drive.progress]
    half = len(growth) // 2
    figures = report.figures
    figures["runs"] = len(runs)
    figures["events"] = drive.events
    figures["long_history_bytes_per_step"] = sum(r.history_bytes for r in runs) / max(
        sum(step_counts), 1
    )
    figures["short_history_bytes_per_step"] = short.history_bytes / short_steps
    figures["largest_run_history_bytes"] = max(run.history_bytes for run in runs)
    carried = [run.started_input_bytes for run in runs[1:]]
    figures["first_carried_bytes"] = carried[0] if carried else 0
    figures["last_carried_bytes"] = carried[-1] if carried else 0
    figures["untrimmed_state_bytes"] = untrimmed
    figures["rss_growth_half_bytes"] = growth[half - 1] if half else 0
    figures["rss_growth_bytes"] = growth[-1] if growth else 0
    figures["rss_short_case_bytes"] = after_short - after_long
    figures["view_bytes"] = view_bytes
    figures["short_view_bytes"] = len(short_view.model_dump_json())
    report.notes.append(
        f"case query answer: {view_bytes / 1024:.0f} KiB at the end "
        f"({len(view.state.steps)} steps shown of {view.state.next_seq}); the short case's: "
        f"{figures['short_view_bytes'] / 1024:.1f} KiB"
    )
    report.notes.append(
        f"carried state, last run: {figures['last_carried_bytes'] / 1024:.1f} KiB; the same "
        f"state with its whole timeline (as carried before the bound): {untrimmed / 1024:.0f} KiB"
    )
    report.rows.append(
        [
            "worker RSS", f"+{figures['rss_growth_half_bytes'] / MIB:.1f} MiB at half",
            f"+{figures['rss_growth_bytes'] / MIB:.1f} MiB at the end", "", "",
            f"short case +{figures['rss_short_case_bytes'] / 1024:.0f} KiB",
        ]
    )  # fmt: skip
    report.ratios = [
        Ratio(
            "long/short history per step",
            figures["long_history_bytes_per_step"] / figures["short_history_bytes_per_step"],
        ),
        Ratio(
            "last/first state carried into a run",
            figures["last_carried_bytes"] / max(figures["first_carried_bytes"], 1.0),
        ),
        Ratio(
            "worker RSS growth, whole case / first half",
            figures["rss_growth_bytes"] / max(figures["rss_growth_half_bytes"], 1.0),
        ),
        Ratio("long/short case query answer", view_bytes / figures["short_view_bytes"]),
    ]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events sent to the case")
    parser.add_argument("--notes", type=int, default=8, help="notes sent at once per cycle")
    parser.add_argument("--steps-per-run", type=int, default=None, help="continue-as-new bound")
    args = parser.parse_args(argv)
    return run_script(
        lambda server, workdir: measure(
            server, workdir, events=args.events, notes=args.notes,
            steps_per_run=args.steps_per_run,
        )
    )  # fmt: skip


if __name__ == "__main__":
    exit_after(main(sys.argv[1:]))
