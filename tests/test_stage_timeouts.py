"""Stage timeouts in working days (``timeout: {after: 3wd, to: closed}``), pure engine: counted
on the timeout's calendar or the process's, provisional past a calendar's end, re-targeted by new
calendar data, and refused by ``check`` without a calendar. 2027 dates here are INVENTED."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from process.calendars import CalendarSpec, Covers
from process.compiler import CompiledSpec, compile_definition
from process.engine import CaseEngine
from process.loader import DefinitionError, load_calendar, load_definition_text
from process.recalendar import CalendarUpdate
from process.spec import ClockTrigger
from process.state import EventInput

CALENDARS = Path(__file__).parent.parent / "definitions" / "calendars"
SHANGHAI = ZoneInfo("Asia/Shanghai")

DEFINITION = """\
process: waits
version: 1
calendar: cn-workdays
opened_by: [any]
stages:
  open:
    initial: true
    on: {{ask: {{to: waiting, roles: [any]}}, close: {{to: closed, roles: [any]}}}}
  waiting:
    on: {{reply: {{to: open, roles: [any]}}}}
    timeout: {{after: {after}, to: closed{extra}}}
  closed: {{final: true}}
"""


def cst(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


def china() -> CalendarSpec:
    return load_calendar(CALENDARS / "cn-workdays.yaml")


def spec_for(
    after: str = "3wd", extra: str = "", calendars: dict[str, CalendarSpec] | None = None
) -> CompiledSpec:
    known = calendars or {"cn-workdays": china()}
    text = DEFINITION.format(after=after, extra=extra)
    return compile_definition(load_definition_text(text, "waits.yaml", known), known)


def waiting_since(spec: CompiledSpec, at: datetime) -> CaseEngine:
    engine, _ = CaseEngine.open(spec, "waits-1", {}, "王敏", at)
    engine.apply_event(EventInput(event="ask", roles=["any"]), at)
    return engine


def test_working_days_count_from_the_day_after_entering_and_skip_holidays() -> None:
    spec = spec_for()
    assert list(spec.calendars) == ["cn-workdays"]  # the timeout's calendar travels with it
    # Entered Wednesday 30 September 2026: 1-7 October are National Day, Saturday 10 October
    # is a make-up working day, so the third working day is 10 October.
    engine = waiting_since(spec, cst(2026, 9, 30, 10))
    timeout = engine.stage_timeout()
    assert timeout is not None and timeout.due_at == cst(2026, 10, 10, 18)
    assert timeout.calendar == "cn-workdays" and timeout.provisional is None
    entered = engine.state.steps[-1].notes
    assert "stage waiting timeout after 3wd on cn-workdays → closed: due 2026-10-10 18:00 CST" in (
        entered
    )
    assert engine.fire_due(cst(2026, 10, 10, 17)) == []
    fired = engine.fire_due(cst(2026, 10, 10, 18))
    assert [(o.step.event, o.step.to_stage) for o in fired] == [("timeout", "closed")]
    assert fired[0].step.notes[0] == "no event within 3wd in waiting"


def test_working_time_beside_working_days_counts_working_hours() -> None:
    # Friday 2026-11-20 10:00 + 1wd: Monday 23rd 18:00; + 2h of working time: Tuesday 11:00.
    engine = waiting_since(spec_for("1wd 2h"), cst(2026, 11, 20, 10))
    timeout = engine.stage_timeout()
    assert timeout is not None and timeout.due_at == cst(2026, 11, 24, 11)


def test_calendar_days_are_unchanged() -> None:
    engine = waiting_since(spec_for("7d"), cst(2026, 11, 20, 10))
    timeout = engine.stage_timeout()
    assert timeout is not None and timeout.calendar is None
    assert timeout.due_at == cst(2026, 11, 27, 10) and timeout.provisional is None
    assert not any("timeout" in note for note in engine.state.steps[-1].notes)


def test_a_timeout_counts_on_the_calendar_it_names() -> None:
    # MADE-UP calendar: cn-workdays with Monday 23 November 2026 as a holiday.
    office = china().model_copy(
        update={"calendar": "office", "holidays": {date(2026, 11, 23): "闭馆 closed (invented)"}}
    )
    calendars = {"cn-workdays": china(), "office": office}
    spec = spec_for("1wd", ", calendar: office", calendars)
    assert list(spec.calendars) == ["office"]
    engine = waiting_since(spec, cst(2026, 11, 20, 10))
    timeout = engine.stage_timeout()
    assert timeout is not None and timeout.calendar == "office"
    assert timeout.due_at == cst(2026, 11, 24, 18)  # Monday is off on this calendar


def late_engine() -> CaseEngine:
    # Entered Wednesday 30 December 2026: Thursday 31st is known, then Friday 1 and Monday 4
    # January 2027 are counted with the weekly hours alone (2027 is not in the calendar).
    return waiting_since(spec_for(), cst(2026, 12, 30, 10))


def test_past_the_calendar_the_timeout_is_provisional_and_still_fires() -> None:
    engine = late_engine()
    timeout = engine.stage_timeout()
    assert timeout is not None and timeout.due_at == cst(2027, 1, 4, 18)
    assert timeout.provisional is not None and "covers 2004-01-01 to 2026-12-31" in (
        timeout.provisional
    )
    assert engine.provisional and not engine.state.provisional  # no clock: the timeout says so
    assert any("PROVISIONAL (calendar 'cn-workdays'" in n for n in engine.state.steps[-1].notes)
    assert engine.next_alarm() == cst(2027, 1, 4, 18)
    assert engine.next_alarm_summary() == "stage waiting: timeout after 3wd"
    fired = engine.fire_due(cst(2027, 1, 4, 18))
    assert fired[0].step.to_stage == "closed"
    assert (
        fired[0]
        .step.notes[0]
        .startswith(
            "no event within 3wd in waiting (due time provisional: calendar 'cn-workdays' covers"
        )
    )
    assert engine.stage_timeout() is None and not engine.provisional


def invented_2027(calendar: CalendarSpec) -> CalendarSpec:
    """MADE-UP TEST DATA: the calendar to 2027-12-31 with 1 and 4 January 2027 as holidays."""
    holidays = {
        **calendar.holidays,
        date(2027, 1, 1): "测试元旦 test (invented)",
        date(2027, 1, 4): "测试假日 test (invented)",
    }
    covers = Covers(first=calendar.covers.first, last=date(2027, 12, 31))
    return calendar.model_copy(update={"covers": covers, "holidays": holidays})


def test_new_calendar_data_moves_the_timeout_and_says_so() -> None:
    engine = late_engine()
    update = CalendarUpdate.of(invented_2027(engine.spec.calendars["cn-workdays"]), "运维 ops")
    outcome = engine.update_calendar(update, cst(2026, 12, 31, 9))
    notes = outcome.step.notes
    assert notes[0] == "calendar cn-workdays updated: 2027 added"
    assert notes[1].startswith(
        "stage waiting timeout after 3wd due 2027-01-04 18:00 CST PROVISIONAL"
    )
    assert notes[1].endswith("→ 2027-01-06 18:00 CST (calendar cn-workdays updated: 2027 added)")
    timeout = engine.stage_timeout()
    assert timeout is not None and timeout.due_at == cst(2027, 1, 6, 18)
    assert timeout.provisional is None and not engine.provisional
    assert engine.fire_due(cst(2027, 1, 4, 18) + timedelta(hours=1)) == []


@pytest.mark.parametrize(
    ("after", "extra", "problem"),
    [
        ("3wd", "", "stages.waiting.timeout.after: '3wd': working days need a "
         "calendar: set 'calendar' on the timeout or for the process"),
        ("3wd 1d", "", "stages.waiting.timeout.after: '3wd 1d': beside working "
         "days (wd) write working time in h or m ('d' would be ambiguous)"),
        ("1mo", "", "stages.waiting.timeout.after: '1mo': months (mo) count only "
         "on a legal clock"),
        ("7d", ", calendar: cn-workdays", "stages.waiting.timeout.calendar: "
         "'calendar' is for a timeout in working days: write 'after' in wd (3wd)"),
        ("3wd", ", calendar: cn-workday", "stages.waiting.timeout.calendar: "
         "unknown calendar 'cn-workday'; did you mean 'cn-workdays'?"),
    ],
)  # fmt: skip
def test_check_refuses_timeouts_it_cannot_count(after: str, extra: str, problem: str) -> None:
    text = DEFINITION.format(after=after, extra=extra)
    line = 11
    if "calendar" not in extra and after == "3wd":
        text, line = text.replace("calendar: cn-workdays\n", ""), 10
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "waits.yaml", {"cn-workdays": china()})
    assert caught.value.problems == [f"waits.yaml:{line}: {problem}"]


def test_definitions_without_the_new_keys_keep_their_content_hash() -> None:
    """Unset, ``timeout.calendar`` and a trigger's ``field`` are left out of the dump that the
    content hash is taken over: versions already published stay the same content."""
    timeout = spec_for("7d").definition.stages["waiting"].timeout
    assert timeout is not None and "calendar" not in timeout.model_dump()
    assert ClockTrigger(event="accept").model_dump() == {
        "enter": None, "leave": None, "event": "accept"
    }  # fmt: skip
