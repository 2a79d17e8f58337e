"""Past a calendar's known dates a business clock still has a due time: a provisional one,
counted with the weekly hours alone, that warns and breaches like any other."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from process import clocks
from process.calendars import BusinessCalendar, CalendarCoverageError
from process.clocks import ClockState
from process.compiler import CompiledSpec, compile_definition
from process.coverage import calendars_in_use, ending_soon
from process.engine import CaseEngine
from process.loader import DefinitionError, load_calendar, load_definition_text
from process.measures import BusinessMeasure
from process.spec import Deadline
from tests.test_legal import one_clock

CALENDARS = Path(__file__).parent.parent / "definitions" / "calendars"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def cst(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def provisional() -> BusinessCalendar:
    return BusinessCalendar(load_calendar(CALENDARS / "cn-workdays.yaml"), provisional=True)


def test_weekly_hours_count_past_the_end_and_the_span_says_so(
    provisional: BusinessCalendar,
) -> None:
    # Monday 2026-12-28 + 5 working days: Tue 29, Wed 30, Thu 31 (known), Fri 1 Jan and
    # Mon 4 Jan 2027 counted as plain weekdays (New Year's Day is not known for 2027 here).
    due = provisional.add_working_days(cst(2026, 12, 28, 10), 5)
    assert due == cst(2027, 1, 4, 18)
    reason = provisional.guessed(cst(2026, 12, 28, 10), due)
    assert reason is not None and "covers 2004-01-01 to 2026-12-31" in reason
    assert provisional.guessed(cst(2026, 12, 1, 10), cst(2026, 12, 31, 18)) is None
    # The strict calendar (old cases replayed) still refuses.
    strict = BusinessCalendar(provisional.spec)
    with pytest.raises(CalendarCoverageError):
        strict.add_working_days(cst(2026, 12, 28, 10), 5)


def test_a_clock_past_the_end_is_provisional_and_warns_and_breaches(
    provisional: BusinessCalendar,
) -> None:
    rule = Deadline.model_validate(
        {"stop": {"leave": "x"}, "within": "15wd", "clock": "business", "warn": ["50%"]}
    )
    measure = BusinessMeasure(provisional)
    clock = ClockState(name="decision")
    note = clocks.start(clock, cst(2026, 12, 21, 10), "15wd", measure)
    # 8 known working days to 31 Dec, then 7 weekdays of 2027: due Monday 11 Jan 18:00.
    assert clock.due_at == cst(2027, 1, 11, 18)
    assert clock.problem is None and clock.provisional is not None
    assert note is not None and "due 2027-01-11 18:00 CST PROVISIONAL (calendar" in note
    assert clocks.warning_times(clock, rule, measure)  # the 50 % warning is scheduled
    assert clocks.next_alarm(clock, rule, measure) is not None
    clocks.stop(clock, cst(2026, 12, 22, 10), measure)
    assert clock.provisional is None


def test_a_clock_within_the_calendar_is_not_provisional(provisional: BusinessCalendar) -> None:
    clock = ClockState(name="decision")
    clocks.start(clock, cst(2026, 11, 2, 10), "15wd", BusinessMeasure(provisional))
    assert clock.due_at is not None and clock.provisional is None


DEFINITION = """
process: late
version: 1
calendar: cn-workdays
opened_by: [any]
stages:
  open: {initial: true, on: {close: {to: closed, roles: [any]}}}
  closed: {final: true}
deadlines:
  answer:
    stop: {enter: closed}
    within: 15wd
    clock: business
    warn: ["1h"]
    on_warn: [{notify: supervisor, template: deadline_warning}]
    on_breach: [{notify: supervisor, template: deadline_breached}]
"""


def late_spec() -> CompiledSpec:
    """A process with one 15-working-day clock on cn-workdays (shared with other tests)."""
    calendars = {"cn-workdays": load_calendar(CALENDARS / "cn-workdays.yaml")}
    return compile_definition(load_definition_text(DEFINITION, "late.yaml", calendars), calendars)


def test_the_engine_warns_and_breaches_on_a_provisional_due_time() -> None:
    spec = late_spec()
    opened = cst(2026, 12, 21, 10)
    engine, first = CaseEngine.open(spec, "late-1", {}, "王敏", opened)
    assert any("PROVISIONAL" in note for note in first.step.notes)
    assert engine.state.provisional
    due = engine.state.clocks["answer"].due_at
    assert due == cst(2027, 1, 11, 18)
    fired = engine.fire_due(due + timedelta(minutes=1))
    assert [o.step.event for o in fired] == ["deadline.warning:answer", "deadline.breached:answer"]
    assert "PROVISIONAL" in fired[1].step.notes[0]
    message = fired[1].messages[0]
    assert message.params["deadline"]["provisional"].startswith("calendar 'cn-workdays' covers")
    assert engine.state.clocks["answer"].breached_at == due


def test_cases_recorded_before_provisional_times_replay_without_them() -> None:
    engine, _ = CaseEngine.open(late_spec(), "late-2", {}, "王敏", cst(2026, 12, 21, 10), False)
    clock = engine.state.clocks["answer"]
    assert clock.due_at is None and clock.problem is not None
    assert engine.next_alarm() is None


def test_calendars_ending_within_60_days_are_named() -> None:
    in_use = calendars_in_use([late_spec()])
    assert list(in_use) == ["cn-workdays"]
    soon = ending_soon(in_use.values(), date(2026, 12, 1))
    assert (
        len(soon) == 1 and "'cn-workdays' covers dates to 2026-12-31 (ends in 30 days)" in soon[0]
    )
    assert ending_soon(in_use.values(), date(2026, 10, 1)) == []
    assert "ended 1 days ago" in ending_soon(in_use.values(), date(2027, 1, 1))[0]


def test_a_business_clock_warns_working_days_before_its_due_time(
    provisional: BusinessCalendar,
) -> None:
    rule = Deadline.model_validate(
        {"stop": {"leave": "x"}, "within": "15wd", "clock": "business", "warn": ["1wd", "2wd 1h"]}
    )
    measure = BusinessMeasure(provisional)
    clock = ClockState(name="decision")
    # Started Tuesday 22 September 2026: due 20 October 18:00 (National Day and its make-up
    # days counted by the calendar).
    clocks.start(clock, cst(2026, 9, 22, 10), "15wd", measure)
    assert clock.due_at == cst(2026, 10, 20, 18)
    warnings = [when for _, when in clocks.warning_times(clock, rule, measure)]
    # One working day before: Monday 19 October 18:00; two days and an hour: Friday 16, 17:00.
    assert warnings == [cst(2026, 10, 19, 18), cst(2026, 10, 16, 17)]
    # Over the holiday: due Thursday 8 October warns Wednesday 30 September, before it; due
    # Monday 12 October warns on the make-up Saturday, 10 October.
    assert provisional.back_working_days(cst(2026, 10, 8, 18), 1) == cst(2026, 9, 30, 18)
    assert provisional.back_working_days(cst(2026, 10, 12, 18), 1) == cst(2026, 10, 10, 18)


WARN = ", warn: [1wd]"


def test_working_day_warnings_need_a_business_clock() -> None:
    calendars = {"cn-workdays": load_calendar(CALENDARS / "cn-workdays.yaml")}
    load_definition_text(one_clock("business", "15wd", WARN), "d.yaml", calendars)
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(one_clock("calendar", "15d", WARN), "d.yaml", calendars)
    assert caught.value.problems == [
        "d.yaml:9: deadlines.answer.warn.0: warning '1wd': working days (wd) need clock: business"
    ]
