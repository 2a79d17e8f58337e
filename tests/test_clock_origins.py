"""A clock that counts from a date field (``start: {field: received_at}``), pure engine: from the
field's value when it has one; while it is empty from the moment the clock started, provisionally
and said so; moved when an event sets the field later; and checked when the definition loads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from api.views import case_body
from process.compiler import CompiledSpec, compile_definition
from process.engine import CaseEngine
from process.loader import DefinitionError, load_calendar, load_definition_text
from process.origins import origin_of
from process.state import EventInput
from service.render import render_case
from workflows.case import CaseView

CALENDARS = Path(__file__).parent.parent / "definitions" / "calendars"
SHANGHAI = ZoneInfo("Asia/Shanghai")

LETTERS = """\
process: letters
version: 1
calendar: cn-workdays
opened_by: [any]
fields:
  received_at: {{type: {kind}}}
  subject: {{type: string}}
stages:
  open:
    initial: true
    on:
      receive: {{to: open, roles: [any], inputs: [received_at]}}
      close: {{to: closed, roles: [any]}}
  closed: {{final: true}}
deadlines:
  answer:
    start: {{field: {field}}}
    stop: {{enter: closed}}
    within: 15wd
    clock: business
"""


def cst(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


def letters(kind: str = "date", field: str = "received_at") -> str:
    return LETTERS.format(kind=kind, field=field)


def spec() -> CompiledSpec:
    calendars = {"cn-workdays": load_calendar(CALENDARS / "cn-workdays.yaml")}
    return compile_definition(load_definition_text(letters(), "l.yaml", calendars), calendars)


def receive(engine: CaseEngine, value: str | None, at: datetime) -> list[str]:
    event = EventInput(event="receive", roles=["any"], data={"received_at": value})
    return engine.apply_event(event, at).step.notes


def test_the_due_time_counts_from_the_fields_date() -> None:
    # Received Friday 20 November, entered 1 December: 15 working days after the 20th.
    engine, opened = CaseEngine.open(spec(), "l-1", {"received_at": "2026-11-20"}, "王敏",
                                     cst(2026, 12, 1, 10))  # fmt: skip
    clock = engine.state.clocks["answer"]
    assert clock.started_at == cst(2026, 11, 20) and clock.counts_from == "received_at"
    assert clock.due_at == cst(2026, 12, 11, 18) and clock.provisional is None
    assert opened.step.notes == [
        "answer started: 15wd of working time on cn-workdays, counting from received_at "
        "(2026-11-20), due 2026-12-11 18:00 CST"
    ]


def test_an_empty_field_counts_from_the_start_provisionally_until_an_event_sets_it() -> None:
    engine, _ = CaseEngine.open(spec(), "l-2", {}, "王敏", cst(2026, 11, 2, 10))
    clock = engine.state.clocks["answer"]
    assert clock.started_at == cst(2026, 11, 2, 10) and clock.due_at == cst(2026, 11, 23, 18)
    assert clock.provisional == (
        "received_at is empty: counted from 2026-11-02 10:00 CST, when the clock started, "
        "until it is set"
    )
    assert engine.provisional and "counting from received_at (empty)" in clock.explain[0]
    notes = receive(engine, "2026-10-30", cst(2026, 11, 3, 9))
    assert notes == [
        "answer counts from received_at (2026-10-30): due 2026-11-23 18:00 CST → "
        "2026-11-20 18:00 CST"
    ]
    assert clock.started_at == cst(2026, 10, 30) and clock.due_at == cst(2026, 11, 20, 18)
    assert clock.provisional is None and not engine.provisional
    # The same value again changes nothing; a later correction moves it again.
    assert receive(engine, "2026-10-30", cst(2026, 11, 3, 10)) == []
    assert receive(engine, "2026-11-02", cst(2026, 11, 3, 11))[0].endswith(
        "due 2026-11-20 18:00 CST → 2026-11-23 18:00 CST"
    )
    # Emptied again: back to the start moment, provisional again, and said so.
    notes = receive(engine, None, cst(2026, 11, 3, 12))
    assert notes[0].startswith("answer counts from received_at (empty): due ")
    assert clock.started_at == cst(2026, 11, 2, 10) and clock.provisional is not None


def test_a_provisional_due_time_still_breaches_and_a_late_date_does_not_undo_it() -> None:
    engine, _ = CaseEngine.open(spec(), "l-3", {}, "王敏", cst(2026, 11, 2, 10))
    fired = engine.fire_due(cst(2026, 11, 23, 18))
    assert [o.step.event for o in fired] == ["deadline.breached:answer"]
    assert "PROVISIONAL (received_at is empty" in fired[0].step.notes[0]
    notes = receive(engine, "2026-11-10", cst(2026, 11, 24, 9))
    assert notes == [
        "answer: received_at is now 2026-11-10; the breach at 2026-11-23 18:00 CST stands"
    ]
    assert engine.state.clocks["answer"].breached_at == cst(2026, 11, 23, 18)


def test_dates_and_datetimes_as_origins() -> None:
    assert origin_of("2026-11-20", SHANGHAI) == cst(2026, 11, 20)
    assert origin_of("2026-11-20T15:30", SHANGHAI) == cst(2026, 11, 20, 15) + timedelta(minutes=30)
    aware = origin_of("2026-11-20T07:00:00+00:00", SHANGHAI)
    assert aware == datetime(2026, 11, 20, 7, tzinfo=UTC)
    assert origin_of(None, SHANGHAI) is None and origin_of("  ", SHANGHAI) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (letters(field="received"), "l.yaml:17: deadlines.answer.start.0.field: unknown field "
         "'received'; did you mean 'received_at'?"),
        (letters(kind="string"), "l.yaml:17: deadlines.answer.start.0.field: field "
         "'received_at' is string: a clock counts from a date or datetime"),
        (letters().replace("stop: {enter: closed}", "stop: {enter: closed, field: received_at}"),
         "l.yaml:18: deadlines.answer.stop.0.field: 'field' belongs to 'start' or 'restart' (a "
         "clock counts from a date), not 'stop'"),
    ],
)  # fmt: skip
def test_check_refuses_a_field_a_clock_cannot_count_from(text: str, problem: str) -> None:
    calendars = {"cn-workdays": load_calendar(CALENDARS / "cn-workdays.yaml")}
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "l.yaml", calendars)
    assert caught.value.problems == [problem]


def test_a_datetime_field_is_accepted() -> None:
    calendars = {"cn-workdays": load_calendar(CALENDARS / "cn-workdays.yaml")}
    load_definition_text(letters(kind="datetime"), "l.yaml", calendars)


def test_show_and_the_api_say_the_clock_counts_from_the_field() -> None:
    compiled = spec()
    engine, _ = CaseEngine.open(compiled, "l-4", {"received_at": "2026-11-20"}, "王敏",
                                cst(2026, 12, 1, 10))  # fmt: skip
    view = CaseView(state=engine.state, allowed_events=[], definition=compiled.label)
    text = render_case(view, compiled)
    assert "target 15wd of working time on cn-workdays, counted from received_at " in text
    assert "(2026-11-20 00:00:00)" in text
    body = case_body(view, compiled, roles=["any"])
    assert body.clocks[0].counts_from == "received_at"
    assert body.clocks[0].started_at == cst(2026, 11, 20)


def test_a_clock_started_by_an_event_counts_from_the_date_that_event_brings() -> None:
    text = letters().replace("start: {field: received_at}",
                             "start: {event: receive, field: received_at}")  # fmt: skip
    calendars = {"cn-workdays": load_calendar(CALENDARS / "cn-workdays.yaml")}
    compiled = compile_definition(load_definition_text(text, "l.yaml", calendars), calendars)
    engine, _ = CaseEngine.open(compiled, "l-5", {}, "王敏", cst(2026, 12, 1, 10))
    assert engine.state.clocks["answer"].started_at is None  # waits for the event
    notes = receive(engine, "2026-11-20", cst(2026, 12, 1, 11))
    clock = engine.state.clocks["answer"]
    assert clock.started_at == cst(2026, 11, 20) and clock.due_at == cst(2026, 12, 11, 18)
    assert notes[0].startswith("answer started: 15wd of working time on cn-workdays, counting "
                               "from received_at (2026-11-20)")  # fmt: skip
