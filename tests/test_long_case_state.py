"""What a long case carries into a new run stays the same size, whatever its number of events
(pure: the engine and the state, no Temporal). The workflow side: ``test_long_case.py``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from process.admission import closed_window
from process.clocks import EXPLAIN_KEPT
from process.compiler import CompiledSpec
from process.engine import CaseEngine
from process.events import DUPLICATE_LINKED_EVENT, GROUPED_EVENT
from process.links import duplicates_of, group_of
from process.state import Step
from runtime import load_specs
from tests import test_regulatory as regulatory
from tests.test_engine import CUSTOMER, HANDLER, SUPERVISOR, T0, event_of, opened, send


@pytest.fixture(scope="module")
def specs() -> dict[str, CompiledSpec]:
    return load_specs(Path(__file__).parent.parent / "definitions")


def test_a_trimmed_case_keeps_its_latest_steps_and_numbers_on(
    specs: dict[str, CompiledSpec],
) -> None:
    complaint = specs["complaint"]
    engine = opened(complaint)
    send(engine, "accept", ("li", ["agent"]), T0)
    send(engine, "assign", SUPERVISOR, T0, assignee="陈静")
    at = T0
    for cycle in range(40):  # notes and reopenings: every clock restarts forty times
        at += timedelta(minutes=10)
        send(engine, "submit_plan", HANDLER, at, plan=f"方案 {cycle}")
        send(engine, "propose", HANDLER, at, resolution=f"结果 {cycle}")
        send(engine, "dissatisfied", CUSTOMER, at, csat=1)
    state = engine.state
    taken = state.next_seq
    assert taken == 3 + 40 * 3
    for clock in state.clocks.values():
        assert len(clock.explain) <= EXPLAIN_KEPT
    assert state.clocks["plan"].explain[0].startswith("plan started")  # how it counts
    assert "restarted" in state.clocks["plan"].explain[-1]

    trimmed = state.trimmed(50)
    assert [step.seq for step in trimmed.steps] == list(range(taken - 50, taken))
    assert trimmed.earlier_steps == taken - 50 and trimmed.next_seq == taken
    assert trimmed.trimmed(50) is trimmed  # short enough already
    # A new run goes on numbering where the last one stopped.
    again = CaseEngine(complaint, trimmed.model_copy(deep=True))
    step = again.apply_event(event_of("submit_plan", HANDLER, plan="再来"), at).step
    assert step.seq == taken
    assert again.state.fields["reopen_count"] == 40


def test_a_trimmed_case_still_refuses_what_a_timeout_closed(
    specs: dict[str, CompiledSpec],
) -> None:
    bank = specs["bank_complaint"]
    engine = regulatory.accepted(bank)
    decided = regulatory.T0 + 5 * regulatory.DAY
    regulatory.send(
        engine, "decide", regulatory.HANDLER, decided, decision="退还手续费",
        decision_result="upheld",
    )  # fmt: skip
    engine.fire_due(regulatory.T0 + 35 * regulatory.DAY)
    state, later = engine.state, decided + 31 * regulatory.DAY
    for n in range(100):  # a long life after the timeout (as notes would leave)
        state.steps.append(
            Step(
                seq=state.next_seq, at=later, event=f"note {n}", from_stage=state.stage,
                to_stage=state.stage, actor="李强",
            )
        )  # fmt: skip
    refusal = closed_window(bank.definition, state, "request_review")
    assert refusal is not None
    trimmed = state.trimmed(10)
    assert len(trimmed.steps) == 11  # the latest ten and the timeout out of 'decided'
    assert trimmed.steps[0].event == "timeout" and trimmed.next_seq == state.next_seq
    assert trimmed.earlier_steps == state.next_seq - 11
    assert closed_window(bank.definition, trimmed, "request_review") == refusal


def test_a_trimmed_case_keeps_the_steps_its_links_are_read_from(
    specs: dict[str, CompiledSpec],
) -> None:
    engine = opened(specs["complaint"])
    send(engine, "accept", ("li", ["agent"]), T0)
    send(engine, "assign", SUPERVISOR, T0, assignee="陈静")
    for cycle in range(60):
        send(engine, "submit_plan", HANDLER, T0, plan=f"方案 {cycle}")
    steps = list(engine.state.steps)
    linked = {"group": "G-0001", "plan": "统一处理 一次答复"}
    steps[2] = steps[2].model_copy(update={"event": GROUPED_EVENT, "data": linked})
    steps[3] = steps[3].model_copy(
        update={"event": DUPLICATE_LINKED_EVENT, "data": {"duplicate": "c-9"}}
    )
    state = engine.state.model_copy(update={"steps": steps})

    trimmed = state.trimmed(10)
    assert group_of(trimmed.steps) == ("G-0001", "统一处理 一次答复")
    assert duplicates_of(trimmed.steps) == ["c-9"]
    assert len(trimmed.steps) == 12 and trimmed.earlier_steps == len(steps) - 12
    assert [step.seq for step in trimmed.steps] == sorted(step.seq for step in trimmed.steps)
