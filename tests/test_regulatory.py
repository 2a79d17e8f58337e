"""The regulators' deadlines in the shipped bank complaint process, on the pure engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from process.clocks import ClockStatus
from process.compiler import CompiledSpec
from process.engine import CaseEngine
from process.refusals import RefusalKind
from process.state import EventInput
from runtime import load_specs

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 9, 1, 10, tzinfo=SHANGHAI)  # a Tuesday
DAY = timedelta(days=1)
Who = tuple[str, list[str]]
AGENT: Who = ("王敏", ["agent"])
HANDLER: Who = ("陈静", ["handler"])
SUPERVISOR: Who = ("李强", ["supervisor"])
MANAGER: Who = ("周总", ["manager"])
CUSTOMER: Who = ("customer", ["customer"])


@pytest.fixture(scope="module")
def bank() -> CompiledSpec:
    return load_specs(Path(__file__).parent.parent / "definitions")["bank_complaint"]


def accepted(spec: CompiledSpec, at: datetime = T0) -> CaseEngine:
    engine, _ = CaseEngine.open(spec, "bank-1", {"customer_id": "C-1"}, "branch", at)
    send(engine, "accept", AGENT, at, assignee="陈静")
    return engine


def send(engine: CaseEngine, event: str, who: Who, at: datetime, **data: object) -> list[str]:
    outcome = engine.apply_event(EventInput(event=event, actor=who[0], roles=who[1], data=data), at)
    return outcome.step.notes


def test_the_spec_carries_the_calendar_it_counts_in(bank: CompiledSpec) -> None:
    assert list(bank.calendars) == ["cn-workdays"]
    assert bank.calendars["cn-workdays"].timezone == "Asia/Shanghai"


def test_acknowledgement_counts_one_working_day_over_a_holiday(bank: CompiledSpec) -> None:
    engine, _ = CaseEngine.open(
        bank, "bank-2", {"customer_id": "C-2"}, "branch", datetime(2026, 9, 30, 15, tzinfo=SHANGHAI)
    )
    assert engine.state.clocks["acknowledge"].due_at == datetime(2026, 10, 8, 18, tzinfo=SHANGHAI)


def test_a_decision_is_due_in_15_days_and_extensions_move_it(bank: CompiledSpec) -> None:
    engine = accepted(bank)
    decision = engine.state.clocks["decision"]
    assert decision.due_at == T0 + 15 * DAY
    refusal = engine.check_event(
        EventInput(event="approve_extension", actor="周总", roles=["manager"],
                   data={"approval_ref": "A-1", "extension_reason": "复杂"})
    )  # fmt: skip
    assert refusal is not None and refusal.message == (
        "event 'approve_extension' in stage 'handling': condition not met: extension == 'extended'"
    )
    notes = send(engine, "extend", SUPERVISOR, T0 + 2 * DAY, extension_reason="需调取录音")
    assert "set: extension=extended" in notes
    assert "notify customer: extension_notice" in notes
    moved = (
        "decision target 15d → 30d (extension=extended):"
        " due 2026-09-16 10:00 CST → 2026-10-01 10:00 CST"
    )
    assert moved in notes
    assert decision.due_at == T0 + 30 * DAY
    assert engine.check_event(EventInput(event="extend", roles=["supervisor"])) is not None
    notes = send(
        engine, "approve_extension", MANAGER, T0 + 20 * DAY,
        approval_ref="总行批复 2026-88", extension_reason="涉及第三方机构",
    )  # fmt: skip
    assert decision.due_at == T0 + 60 * DAY
    assert decision.explain[-1] == notes[-1]


def test_external_appraisal_time_does_not_count(bank: CompiledSpec) -> None:
    engine = accepted(bank)
    send(engine, "start_appraisal", HANDLER, T0 + 3 * DAY)
    decision = engine.state.clocks["decision"]
    assert decision.status is ClockStatus.PAUSED
    assert engine.fire_due(T0 + 40 * DAY) == []  # a paused clock never breaches
    notes = send(engine, "appraisal_done", HANDLER, T0 + 10 * DAY)
    assert decision.paused_for == 7 * DAY
    assert decision.due_at == T0 + 22 * DAY
    assert any(
        note.startswith("decision resumed after 7d of calendar time paused") for note in notes
    )


def test_new_facts_restart_the_decision_clock(bank: CompiledSpec) -> None:
    engine = accepted(bank)
    notes = send(engine, "new_facts", CUSTOMER, T0 + 5 * DAY)
    assert notes == [
        "decision restarted (new_facts event): due 2026-09-21 10:00 CST"
        " (was due 2026-09-16 10:00 CST)"
    ]
    assert engine.state.clocks["decision"].due_at == T0 + 20 * DAY


def test_a_missed_decision_escalates_rung_by_rung(bank: CompiledSpec) -> None:
    engine = accepted(bank)
    outcomes = engine.fire_due(T0 + 15 * DAY + timedelta(hours=5))
    events = [outcome.step.event for outcome in outcomes]
    assert events == [
        "deadline.warning:decision",
        "deadline.breached:decision",
        "deadline.escalated:decision:1",
    ]
    assert [m.recipient for o in outcomes for m in o.messages] == [
        "assignee",
        "assignee",
        "supervisor",
    ]
    assert engine.state.fields["priority"] == "high"
    later = engine.fire_due(T0 + 16 * DAY)
    assert [o.step.event for o in later] == ["deadline.escalated:decision:2"]
    assert later[0].messages[0].recipient == "manager"
    assert engine.fire_due(T0 + 30 * DAY) == []  # the chain has no further rung


def test_a_review_is_accepted_only_within_30_days_of_the_decision(bank: CompiledSpec) -> None:
    engine = accepted(bank)
    send(engine, "decide", HANDLER, T0 + 5 * DAY, decision="退还手续费", decision_result="upheld")
    assert engine.state.clocks["decision"].met is True
    assert engine.allowed_events() == ["request_review"]
    outcomes = engine.fire_due(T0 + 35 * DAY)
    assert [o.step.event for o in outcomes] == ["timeout"]
    assert engine.state.stage == "closed" and engine.state.closed_at == T0 + 35 * DAY
    late = engine.check_event(
        EventInput(event="request_review", roles=["customer"], data={"review_reason": "x"})
    )
    assert late is not None
    assert late.kind is RefusalKind.CONFLICT  # 409 in the API
    assert late.message == (
        "event 'request_review' in stage 'closed': 核查申请须在收到决定后30日内提出 (review "
        "requests must come within 30 days of the decision) (the window of 30d in stage "
        "'decided' closed at 2026-10-06 02:00 UTC)"
    )


def test_a_review_has_its_own_deadline(bank: CompiledSpec) -> None:
    engine = accepted(bank)
    send(engine, "decide", HANDLER, T0 + DAY, decision="d", decision_result="rejected")
    send(engine, "request_review", CUSTOMER, T0 + 2 * DAY, review_reason="不服")
    # A legal period (Civil Code): 30 days from 3 September end on 3 October, in the National
    # Day holiday, so on 8 October at 24:00.
    due = datetime(2026, 10, 9, tzinfo=SHANGHAI)
    assert engine.state.clocks["review"].due_at == due
    assert engine.fire_due(due - timedelta(minutes=1)) == []
    breach = engine.fire_due(due)
    assert [o.step.event for o in breach] == ["deadline.breached:review"]
