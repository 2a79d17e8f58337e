"""Closure gates with rectification (溯源整改) on the pure engine: closing needs the finding
and the root cause and, unless the customer is responsible, a rectification with an owner and a
due date; its own clock then reminds its owner until it is reported done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.console.forms import event_forms
from process.clocks import ClockStatus
from process.compiler import CompiledSpec, compile_definition
from process.engine import CaseEngine
from process.loader import DefinitionError, load_definition, load_definition_text
from process.refusals import RefusalKind
from process.state import EventInput

DEFINITIONS = Path(__file__).parent.parent / "definitions"
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Monday
HANDLER = ("陈静", ["handler"])
RECTIFICATION = {
    "rectification": "修订收费规则说明并培训柜员",
    "rectification_owner": "刘洋",
    "rectification_due": "2026-12-04",
}


@pytest.fixture(scope="module")
def complaint() -> CompiledSpec:
    return compile_definition(load_definition(DEFINITIONS / "complaint.yaml"))


def event(name: str, who: tuple[str, list[str]] = HANDLER, /, **data: object) -> EventInput:
    return EventInput(event=name, actor=who[0], roles=who[1], data=data)


def in_closure(spec: CompiledSpec) -> CaseEngine:
    engine, _ = CaseEngine.open(spec, "complaint-r1", {"customer_id": "C-1"}, "web", T0)
    steps = [
        event("accept", ("王敏", ["agent"])),
        event("assign", ("李强", ["supervisor"]), assignee="陈静"),
        event("propose", resolution="退还重复扣费"),
        event("satisfied", ("customer", ["customer"]), csat=4),
    ]
    for index, step in enumerate(steps, start=1):
        engine.apply_event(step, T0 + timedelta(hours=index))
    assert engine.state.stage == "closure"
    return engine


AT_CLOSE = T0 + timedelta(hours=6)


def test_closing_needs_the_finding_and_the_root_cause(complaint: CompiledSpec) -> None:
    engine = in_closure(complaint)
    problem = engine.check_event(event("close"), AT_CLOSE)
    assert problem is not None and problem.kind is RefusalKind.INVALID
    assert problem.message == (
        "event 'close' in stage 'closure': requires input 'responsibility', 'root_cause'"
    )
    problem = engine.check_event(event("close", responsibility="customer"), AT_CLOSE)
    assert problem is not None and problem.message.endswith("requires input 'root_cause'")


def test_a_finding_not_the_customers_needs_a_rectification(complaint: CompiledSpec) -> None:
    engine = in_closure(complaint)
    problem = engine.check_event(
        event("close", responsibility="staff", root_cause="操作差错"), AT_CLOSE
    )
    assert problem is not None and problem.kind is RefusalKind.INVALID
    assert problem.message == (
        "event 'close' in stage 'closure': requires input 'rectification', "
        "'rectification_owner', 'rectification_due' (as responsibility != 'customer')"
    )
    partly = {"rectification": "培训", "rectification_owner": "刘洋"}
    problem = engine.check_event(
        event("close", responsibility="process", root_cause="业务规则", **partly), AT_CLOSE
    )
    assert problem is not None
    assert "requires input 'rectification_due' (as responsibility != 'customer')" in problem.message


def test_a_rectification_due_in_the_past_or_too_late_is_refused(complaint: CompiledSpec) -> None:
    engine = in_closure(complaint)
    for due in ("2026-11-22", "2026-12-15"):
        given = {**RECTIFICATION, "rectification_due": due}
        problem = engine.check_event(
            event("close", responsibility="staff", root_cause="操作差错", **given), AT_CLOSE
        )
        assert problem is not None and problem.kind is RefusalKind.CONFLICT
        assert "condition not met" in problem.message


def test_the_customers_fault_closes_without_a_rectification(complaint: CompiledSpec) -> None:
    engine = in_closure(complaint)
    close = event("close", responsibility="customer", root_cause="客户误解")
    outcome = engine.apply_event(close, AT_CLOSE)
    assert outcome.step.to_stage == "closed"
    assert engine.state.clocks["rectification"].status is ClockStatus.WAITING
    refused = engine.check_event(event("rectification_done", rectification_result="无"))
    assert refused is not None and "condition not met: rectification != null" in refused.message


def test_the_rectification_clock_reminds_its_owner_until_done(complaint: CompiledSpec) -> None:
    engine = in_closure(complaint)
    close = event("close", responsibility="staff", root_cause="操作差错", **RECTIFICATION)
    engine.apply_event(close, AT_CLOSE)
    clock = engine.state.clocks["rectification"]
    # Due at the end of the due date in Shanghai; reminded three days before.
    assert clock.status is ClockStatus.RUNNING
    assert clock.due_at == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    fired = engine.fire_due(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    assert [o.step.event for o in fired] == [
        "deadline.breached:callback", "deadline.warning:rectification",
    ]  # fmt: skip
    warned = fired[1]
    assert warned.step.event == "deadline.warning:rectification"
    assert [(m.recipient, m.template) for m in warned.messages] == [
        ("rectification_owner", "rectification_reminder")
    ]
    assert warned.messages[0].params["fields"]["rectification_owner"] == "刘洋"
    done = event("rectification_done", rectification_result="规则说明已修订")
    outcome = engine.apply_event(done, datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
    assert outcome.step.to_stage == "closed"
    stopped = engine.state.clocks["rectification"]
    assert stopped.status is ClockStatus.STOPPED and stopped.met is True
    assert engine.state.fields["rectified_by"] == "陈静"


def test_an_overdue_rectification_tells_its_owner_then_the_manager(
    complaint: CompiledSpec,
) -> None:
    engine = in_closure(complaint)
    close = event("close", responsibility="product", root_cause="产品设计", **RECTIFICATION)
    engine.apply_event(close, AT_CLOSE)
    fired = engine.fire_due(datetime(2026, 12, 7, 0, 0, tzinfo=UTC))
    sent = [(o.step.event, m.recipient, m.template) for o in fired for m in o.messages]
    assert sent[:1] == [("deadline.breached:callback", "supervisor", "deadline_breached")]
    assert sent[1:] == [
        ("deadline.warning:rectification", "rectification_owner", "rectification_reminder"),
        ("deadline.breached:rectification", "rectification_owner", "rectification_overdue"),
        ("deadline.breached:rectification", "supervisor", "deadline_breached"),
        ("deadline.escalated:rectification:1", "manager", "rectification_overdue"),
    ]
    assert engine.state.stage == "closed"


LETTER = """
process: letter
version: 1
roles: [clerk]
opened_by: [clerk]
fields:
  kind: {type: enum, values: [simple, complex]}
  reason: {type: text}
  due: {type: date}
stages:
  open:
    initial: true
    on:
      finish:
        to: done
        roles: [clerk]
        requires: [kind]
        requires_when: [{when: "kind == 'complex'", fields: [reason, due]}]
  done: {final: true}
deadlines:
  follow_up:
    start: {event: finish, when: "kind == 'complex'", field: due}
    stop: {enter: done}
    within: 1d
"""


def test_requires_when_and_a_conditional_clock_work_in_any_process() -> None:
    spec = compile_definition(load_definition_text(LETTER, "letter.yaml"))
    engine, _ = CaseEngine.open(spec, "letter-1", {}, "clerk", T0)
    clerk = ("赵", ["clerk"])
    problem = engine.check_event(event("finish", clerk, kind="complex"), T0)
    assert problem is not None
    assert problem.message.endswith("requires input 'reason', 'due' (as kind == 'complex')")
    assert engine.check_event(event("finish", clerk, kind="simple"), T0) is None


def test_check_names_the_line_of_a_bad_conditional_requirement() -> None:
    broken = LETTER.replace("fields: [reason, due]", "fields: [reasons]").replace(
        "when: \"kind == 'complex'\", field: due", 'when: "kinds == 1", field: due'
    )
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(broken, "letter.yaml")
    text = str(caught.value)
    assert "letter.yaml:18: stages.open.on.finish.requires_when.0.fields" in text
    assert "unknown field 'reasons'" in text
    assert "letter.yaml:22: deadlines.follow_up.start.0.when: unknown field 'kinds'" in text


def test_unset_keys_stay_out_of_the_dump(complaint: CompiledSpec) -> None:
    dumped = complaint.definition.model_dump(mode="json")
    assert "requires_when" not in dumped["stages"]["intake"]["on"]["accept"]
    assert "when" not in dumped["deadlines"]["response"]["start"][0]
    assert dumped["stages"]["closure"]["on"]["close"]["requires_when"][0]["fields"] == [
        "rectification", "rectification_owner", "rectification_due",
    ]  # fmt: skip


def test_the_console_form_of_close_offers_the_rectification(complaint: CompiledSpec) -> None:
    (form,) = event_forms(complaint.definition, "closure", ["close"], ["handler"])
    required = {item.name: item.required for item in form.inputs}
    assert required == {
        "responsibility": True, "root_cause": True, "rectification": False,
        "rectification_owner": False, "rectification_due": False, "root_cause_note": False,
    }  # fmt: skip
