"""Business time on real calendars: China's holidays and make-up days, and a zone with DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from process import clocks
from process.calendars import BusinessCalendar, CalendarCoverageError, CalendarSpec
from process.clocks import ClockState
from process.loader import DefinitionError, load_calendar, load_definition_text
from process.measures import BusinessMeasure
from process.spec import Deadline

CALENDARS = Path(__file__).parent.parent / "definitions" / "calendars"
SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
HOUR = timedelta(hours=1)


def cst(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def china() -> BusinessCalendar:
    return BusinessCalendar(load_calendar(CALENDARS / "cn-workdays.yaml"))


@pytest.mark.parametrize(
    ("start", "amount", "due"),
    [
        pytest.param(cst(11, 23, 9), 8 * HOUR, cst(11, 23, 18), id="a-working-day"),
        pytest.param(cst(11, 23, 11, 30), HOUR, cst(11, 23, 13, 30), id="over-lunch"),
        pytest.param(cst(11, 23, 17), 2 * HOUR, cst(11, 24, 10), id="over-a-night"),
        pytest.param(cst(11, 28, 10), 2 * HOUR, cst(11, 30, 11), id="from-a-saturday"),
        pytest.param(cst(11, 27, 20), HOUR, cst(11, 30, 10), id="friday-evening"),
        pytest.param(cst(9, 30, 17), 2 * HOUR, cst(10, 8, 10), id="national-day-eve"),
        pytest.param(cst(9, 24, 17), 2 * HOUR, cst(9, 28, 10), id="mid-autumn-eve"),
        pytest.param(cst(9, 18, 17), 2 * HOUR, cst(9, 20, 10), id="make-up-sunday"),
        pytest.param(cst(10, 9, 17, 30), HOUR, cst(10, 10, 9, 30), id="make-up-saturday"),
        pytest.param(cst(11, 23, 10), timedelta(), cst(11, 23, 10), id="nothing"),
    ],
)
def test_adding_working_time(
    china: BusinessCalendar, start: datetime, amount: timedelta, due: datetime
) -> None:
    assert china.add(start, amount) == due
    if amount:
        assert china.between(start, due) == amount
        assert china.subtract(due, amount) <= start or china.between(start, due) == amount


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        pytest.param(cst(11, 27, 14), 1, cst(11, 30, 18), id="friday-to-monday"),
        pytest.param(cst(11, 23, 8), 1, cst(11, 24, 18), id="the-start-day-does-not-count"),
        pytest.param(cst(9, 30, 10), 1, cst(10, 8, 18), id="over-national-day"),
        pytest.param(cst(9, 24, 10), 3, cst(9, 30, 18), id="over-mid-autumn"),
        pytest.param(cst(10, 8, 10), 2, cst(10, 10, 18), id="counting-a-make-up-saturday"),
        pytest.param(cst(9, 18, 10), 1, cst(9, 20, 18), id="counting-a-make-up-sunday"),
    ],
)
def test_counting_working_days(
    china: BusinessCalendar, start: datetime, days: int, due: datetime
) -> None:
    assert china.add_working_days(start, days) == due


def test_measuring_working_time_between_instants(china: BusinessCalendar) -> None:
    assert china.between(cst(11, 23, 17), cst(11, 24, 10)) == 2 * HOUR
    assert china.between(cst(9, 30, 17), cst(10, 8, 10)) == 2 * HOUR
    assert china.between(cst(11, 28, 9), cst(11, 29, 18)) == timedelta()
    assert china.between(cst(11, 24, 10), cst(11, 23, 10)) == timedelta()
    assert china.subtract(cst(11, 24, 10), 2 * HOUR) == cst(11, 23, 17)


def test_a_pause_spanning_a_night_moves_a_business_deadline(china: BusinessCalendar) -> None:
    measure = BusinessMeasure(china)
    clock = ClockState(name="handle")
    clocks.start(clock, cst(11, 23, 9), "8h", measure)
    assert clock.due_at == cst(11, 23, 18)
    clocks.pause(clock, cst(11, 23, 16))
    note = clocks.resume(clock, cst(11, 24, 10), measure)
    assert clock.paused_for == 3 * HOUR  # 16:00-18:00 and 09:00-10:00 were working time
    assert clock.due_at == cst(11, 24, 12)
    assert note is not None and "after 3h of working time on cn-workdays paused" in note


def test_changing_priority_during_a_pause_keeps_the_paused_time(china: BusinessCalendar) -> None:
    measure = BusinessMeasure(china)
    clock = ClockState(name="answer")
    clocks.start(clock, cst(11, 23, 9), "4h", measure)
    clocks.pause(clock, cst(11, 23, 10))
    clocks.retarget(clock, "1h", measure, "urgency=urgent")
    clocks.resume(clock, cst(11, 23, 15), measure)
    # 1 h target + 4 h paused (10-12, 13-15) from 09:00, skipping lunch: 15:00.
    assert clock.due_at == cst(11, 23, 15)
    assert clock.budget == HOUR


def test_percentage_warnings_count_working_time(china: BusinessCalendar) -> None:
    rule = Deadline.model_validate(
        {"stop": {"leave": "x"}, "within": "1wd", "clock": "business", "warn": ["50%", "1h"]}
    )
    measure = BusinessMeasure(china)
    clock = ClockState(name="acknowledge")
    clocks.start(clock, cst(11, 27, 14), "1wd", measure)  # Friday: due Monday 18:00
    assert clock.budget == 8 * HOUR + 4 * HOUR  # Friday 14-18 and Monday 9-18 less lunch
    warnings = [when for _, when in clocks.warning_times(clock, rule, measure)]
    assert warnings == [cst(11, 30, 11), cst(11, 30, 17)]


def test_a_deadline_past_the_calendar_is_an_explicit_problem(china: BusinessCalendar) -> None:
    with pytest.raises(CalendarCoverageError, match="covers 2004-01-01 to 2026-12-31; 2027-01-01"):
        china.add_working_days(cst(12, 28, 10), 5)
    measure = BusinessMeasure(china)
    clock = ClockState(name="decision")
    note = clocks.start(clock, cst(12, 28, 10), "15wd", measure)
    assert clock.due_at is None and clock.problem is not None
    assert note is not None and "NO DUE TIME: calendar 'cn-workdays' covers" in note
    assert clocks.next_alarm(clock, _rule(), measure) is None


def _rule() -> Deadline:
    return Deadline.model_validate({"stop": {"leave": "x"}, "within": "15wd", "clock": "business"})


def london(covering: int = 2026) -> BusinessCalendar:
    office = ["09:00-17:00"]
    return BusinessCalendar(
        CalendarSpec.model_validate(
            {
                "calendar": "uk-office",
                "timezone": "Europe/London",
                "hours": {day: office for day in ("mon", "tue", "wed", "thu", "fri")},
                "covers": {"from": date(covering, 1, 1), "to": date(covering, 12, 31)},
            }
        )
    )


def test_office_hours_across_the_spring_dst_change() -> None:
    office = london()
    friday = datetime(2026, 3, 27, 16, tzinfo=LONDON)  # GMT, UTC+0
    due = office.add(friday, 2 * HOUR)
    assert due == datetime(2026, 3, 30, 10, tzinfo=LONDON)  # BST, UTC+1
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 9, tzinfo=UTC)
    assert office.between(friday, due) == 2 * HOUR


def test_a_round_the_clock_calendar_counts_real_hours_across_dst() -> None:
    always = BusinessCalendar(
        CalendarSpec.model_validate(
            {
                "calendar": "always",
                "timezone": "Europe/London",
                "hours": {day: ["00:00-24:00"] for day in ("sat", "sun")},
                "covers": {"from": date(2026, 1, 1), "to": date(2026, 12, 31)},
            }
        )
    )
    saturday_noon = datetime(2026, 3, 28, 12, tzinfo=UTC)
    sunday_noon = datetime(2026, 3, 29, 12, tzinfo=UTC)
    assert always.between(saturday_noon, sunday_noon) == 24 * HOUR  # not 25 h of wall clock
    assert always.add(saturday_noon, 24 * HOUR) == sunday_noon


BUSINESS = """\
process: demo
version: 1
calendar: cn-workdays
stages:
  intake:
    initial: true
    on: {close: {to: closed, roles: [any]}}
  closed:
    final: true
deadlines:
  answer: {stop: {leave: intake}, within: 2d, clock: business}
  decide: {stop: {leave: intake}, within: 15wd}
opened_by: [any]
"""


def test_units_must_match_the_clock(china: BusinessCalendar) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(BUSINESS, "demo.yaml", {"cn-workdays": china.spec})
    assert caught.value.problems == [
        "demo.yaml:11: deadlines.answer.within: '2d': on a business clock write working days"
        " as 'wd' and working time in h or m ('d' would be ambiguous)",
        "demo.yaml:12: deadlines.decide.within: '15wd': working days (wd) need clock: business",
    ]


def test_a_business_clock_needs_a_known_calendar() -> None:
    text = BUSINESS.replace("2d", "2wd").replace("within: 15wd", "within: 15d")
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "demo.yaml", {})
    assert caught.value.problems == ["demo.yaml:3: calendar: unknown calendar 'cn-workdays'"]
    text = text.replace("calendar: cn-workdays\n", "")
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "demo.yaml", {})
    assert caught.value.problems == [
        "demo.yaml:10: deadlines.answer.clock: a business clock needs a calendar: set 'calendar'"
        " here or for the process"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("09:00-12:00", "9-12"), "working hours '9-12': write them as HH:MM-HH:MM"),
        (("Asia/Shanghai", "Asia/Shanghia"), "timezone: unknown time zone 'Asia/Shanghia'"),
        (
            ("  2026-01-01: 元旦", "  2026-01-04: 元旦"),
            "2026-01-04 is both a holiday and a make-up",
        ),
    ],
)
def test_broken_calendars_are_reported(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = (CALENDARS / "cn-workdays.yaml").read_text(encoding="utf-8")
    path = tmp_path / "cn-workdays.yaml"
    path.write_text(text.replace(*change, 1), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_calendar(path)
    assert expected in caught.value.problems[0]
    assert caught.value.problems[0].startswith("cn-workdays.yaml:")
