"""The pure case engine on the shipped complaint process: no Temporal, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from process.clocks import ClockStatus
from process.compiler import CompiledSpec, compile_definition
from process.engine import CaseEngine
from process.fields import data_problems
from process.loader import load_definition, load_definition_text
from process.refusals import IllegalEvent
from process.state import EventInput

DEFINITIONS = Path(__file__).parent.parent / "definitions"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Who = tuple[str, list[str]]
AGENT: Who = ("li", ["agent"])
SUPERVISOR: Who = ("wang", ["supervisor"])
HANDLER: Who = ("chen", ["handler"])
CUSTOMER: Who = ("customer", ["customer"])


def event_of(event: str, who: Who, **data: object) -> EventInput:
    return EventInput(event=event, actor=who[0], roles=who[1], data=data)


@pytest.fixture(scope="module")
def complaint() -> CompiledSpec:
    return compile_definition(load_definition(DEFINITIONS / "complaint.yaml"))


def opened(spec: CompiledSpec, **fields: object) -> CaseEngine:
    engine, outcome = CaseEngine.open(
        spec, "complaint-t1", {"customer_id": "C-1", **fields}, "web", T0
    )
    assert outcome.step.seq == 0
    return engine


def send(engine: CaseEngine, event: str, who: Who, at: datetime, **data: object) -> str:
    return engine.apply_event(event_of(event, who, **data), at).step.to_stage


def refusal(engine: CaseEngine, event: str, who: Who, **data: object) -> str:
    problem = engine.check_event(event_of(event, who, **data))
    assert problem is not None
    with pytest.raises(IllegalEvent, match=r"^event"):
        engine.apply_event(event_of(event, who, **data), T0)
    return problem.message


def test_opening_routes_and_acknowledges(complaint: CompiledSpec) -> None:
    engine, outcome = CaseEngine.open(
        complaint, "complaint-t1", {"customer_id": "C-1", "category": "card"}, "web", T0
    )
    assert engine.state.stage == "intake"
    assert engine.state.fields["team"] == "银行卡与信贷 cards and credit"
    assert [message.template for message in outcome.messages] == ["acknowledged"]
    assert outcome.messages[0].recipient == "customer"
    assert "routing rule 2: team=银行卡与信贷 cards and credit" in outcome.step.notes
    assert all(clock.status is ClockStatus.WAITING for clock in engine.state.clocks.values())
    assert engine.next_alarm() is None


def test_accept_starts_the_response_and_plan_clocks(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    assert send(engine, "accept", AGENT, T0 + timedelta(hours=1)) == "triage"
    clocks = engine.state.clocks
    assert clocks["response"].due_at == T0 + timedelta(hours=25)
    assert clocks["plan"].due_at == T0 + timedelta(hours=49)
    # The response clock warns at 75 % of its 24 hours.
    assert engine.next_alarm() == T0 + timedelta(hours=1 + 18)


def test_refusals_name_the_event_and_the_stage(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    assert refusal(engine, "close", HANDLER) == (
        "event 'close' in stage 'intake': not allowed here (allowed: accept, withdraw)"
    )
    assert refusal(engine, "accept", CUSTOMER) == (
        "event 'accept' in stage 'intake': needs role agent or supervisor; "
        "'customer' acts as customer"
    )
    send(engine, "accept", AGENT, T0)
    assert refusal(engine, "assign", AGENT) == (
        "event 'assign' in stage 'triage': requires input 'assignee'"
    )
    assert refusal(engine, "escalate", AGENT) == (
        "event 'escalate' in stage 'triage': condition not met: "
        "severity == 'urgent' or amount > 50000"
    )
    assert refusal(engine, "assign", AGENT, assignee="chen", colour="red") == (
        "event 'assign' in stage 'triage': field 'colour': not an input of this event"
        " (inputs: assignee, assignee_branch, conflict_justification)"
    )
    assert refusal(engine, "assign", AGENT, assignee=42) == (
        "event 'assign' in stage 'triage': field 'assignee': expected text, got number 42"
    )
    assert refusal(engine, "timeout", AGENT).startswith("event 'timeout' in stage 'triage'")


def test_refusals_never_repeat_customer_data(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    send(engine, "accept", AGENT, T0)
    problem = refusal(engine, "assign", AGENT, assignee="chen", phone=13800000000)
    assert "13800000000" not in problem
    assert problem.endswith(
        "field 'phone': not an input of this event"
        " (inputs: assignee, assignee_branch, conflict_justification)"
    )
    fields = complaint.definition.fields
    assert data_problems(fields, {"phone": 13800000000}) == [("phone", "not a valid string")]


def test_a_guard_sees_the_events_own_inputs(complaint: CompiledSpec) -> None:
    engine = opened(complaint, amount=80000)
    send(engine, "accept", AGENT, T0)
    assert send(engine, "escalate", AGENT, T0) == "escalation"
    assert engine.state.fields["priority"] == "high"


def test_waiting_on_the_customer_pauses_the_resolution_clock(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    send(engine, "accept", AGENT, T0)
    send(engine, "assign", SUPERVISOR, T0, assignee="chen")
    due = engine.state.clocks["resolution"].due_at
    assert due == T0 + timedelta(days=15)
    send(engine, "ask_customer", HANDLER, T0 + timedelta(days=1))
    assert engine.state.clocks["resolution"].status is ClockStatus.PAUSED
    assert engine.state.clocks["resolution"].due_at is None
    send(engine, "customer_replied", CUSTOMER, T0 + timedelta(days=3))
    assert engine.state.clocks["resolution"].due_at == T0 + timedelta(days=17)


def test_warning_then_breach_run_their_actions(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    send(engine, "accept", AGENT, T0)
    outcomes = engine.fire_due(T0 + timedelta(hours=24))
    assert [outcome.step.event for outcome in outcomes] == [
        "deadline.warning:response",
        "deadline.breached:response",
    ]
    warning, breach = outcomes
    assert warning.messages[0].recipient == "supervisor"
    assert breach.messages[0].template == "deadline_breached"
    assert engine.state.fields["priority"] == "high"
    assert engine.state.clocks["response"].breached_at == T0 + timedelta(hours=24)
    assert [outcome.step.seq for outcome in outcomes] == [2, 3]
    # Leaving triage later stops the clock, late.
    send(engine, "assign", SUPERVISOR, T0 + timedelta(hours=30), assignee="chen")
    assert engine.state.clocks["response"].met is False


def test_a_missed_plan_escalates_the_case(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    send(engine, "accept", AGENT, T0)
    send(engine, "assign", SUPERVISOR, T0, assignee="chen")
    outcomes = engine.fire_due(T0 + timedelta(hours=48))
    breach = outcomes[-1]
    assert breach.step.event == "deadline.breached:plan"
    assert (breach.step.from_stage, breach.step.to_stage) == ("handling", "escalation")
    assert engine.state.stage == "escalation"


def test_submitting_the_plan_in_time_stops_its_clock_without_reentering(
    complaint: CompiledSpec,
) -> None:
    engine = opened(complaint)
    send(engine, "accept", AGENT, T0)
    send(engine, "assign", SUPERVISOR, T0, assignee="chen")
    outcome = engine.apply_event(
        event_of("submit_plan", HANDLER, plan="退费"), T0 + timedelta(hours=5)
    )
    assert outcome.messages == []  # handling's entry notice is not sent again
    assert engine.state.clocks["plan"].met is True


def test_a_stage_timeout_moves_the_case(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    send(engine, "accept", AGENT, T0)
    send(engine, "assign", SUPERVISOR, T0, assignee="chen")
    send(engine, "submit_plan", HANDLER, T0, plan="p")
    send(engine, "propose", HANDLER, T0, resolution="r")
    assert engine.state.stage == "feedback"
    outcomes = engine.fire_due(T0 + timedelta(days=3))
    assert outcomes[-1].step.event == "timeout"
    assert engine.state.stage == "closure"


def test_closing_stops_every_clock_and_ends_the_alarms(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    send(engine, "accept", AGENT, T0)
    send(engine, "withdraw", CUSTOMER, T0 + timedelta(hours=2))
    assert engine.state.closed_at == T0 + timedelta(hours=2)
    clocks = engine.state.clocks
    assert clocks.pop("callback").status is ClockStatus.WAITING  # it starts only on closing
    assert clocks.pop("rectification").status is ClockStatus.WAITING  # ... with a rectification
    assert all(clock.status is ClockStatus.STOPPED for clock in clocks.values())
    assert engine.next_alarm() is None
    assert engine.allowed_events() == []
    assert refusal(engine, "accept", AGENT).endswith("case complaint-t1 is closed")


def test_targets_follow_the_field_they_depend_on() -> None:
    text = (DEFINITIONS / "service_request.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "      cancel: {to: cancelled, roles: [customer, agent], title: 取消 Cancel}",
        "      cancel: {to: cancelled, roles: [customer, agent], title: 取消 Cancel}\n"
        "      upgrade: {to: intake, roles: [any], inputs: [urgency]}",
    )
    spec = compile_definition(load_definition_text(text, "service_request.yaml"))
    engine, _ = CaseEngine.open(spec, "sr-1", {"customer_id": "C-1"}, "web", T0)
    assert engine.state.clocks["answer"].due_at == T0 + timedelta(hours=1)
    outcome = engine.apply_event(
        EventInput(event="upgrade", data={"urgency": "urgent"}), T0 + timedelta(minutes=5)
    )
    assert engine.state.clocks["answer"].due_at == T0 + timedelta(minutes=15)
    assert (
        "answer target 1h → 15m (urgency=urgent): due 2026-11-23 18:00 CST → 2026-11-23 17:15 CST"
        in outcome.step.notes
    )


def test_the_same_inputs_give_the_same_case(complaint: CompiledSpec) -> None:
    def run() -> str:
        engine = opened(complaint, amount=90000)
        send(engine, "accept", AGENT, T0)
        send(engine, "escalate", AGENT, T0 + timedelta(minutes=3))
        engine.fire_due(T0 + timedelta(days=20))
        return engine.state.model_dump_json()

    assert run() == run()


def test_a_compiled_spec_survives_serialisation(complaint: CompiledSpec) -> None:
    # The spec travels to the workflow as JSON; it must come back equal.
    assert CompiledSpec.model_validate_json(complaint.model_dump_json()) == complaint


def test_cases_of_one_definition_share_its_rules(complaint: CompiledSpec) -> None:
    from process.rules import rules_for

    first, second = opened(complaint), opened(complaint)
    assert first._rules is second._rules
    assert rules_for(complaint).target("accept", "intake") == "triage"
    changed = complaint.model_copy(update={"content_hash": "other"})
    assert rules_for(changed) is not rules_for(complaint)
