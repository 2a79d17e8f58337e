"""Periods counted as the Civil Code counts them (arts. 200-204), on the cn-workdays calendar:
the first day not counted, months to the corresponding day, a last day on a statutory rest day
moved to the day after it, the end at 24:00 or at the close of business."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from process import clocks
from process.calendars import BusinessCalendar
from process.clocks import ClockState
from process.durations import parse_amount, parse_duration
from process.legal import LegalMeasure, add_months, first_working_day, last_day, legal_due
from process.loader import DefinitionError, load_calendar, load_definition_text

CALENDARS = Path(__file__).parent.parent / "definitions" / "calendars"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def china() -> BusinessCalendar:
    return BusinessCalendar(load_calendar(CALENDARS / "cn-workdays.yaml"), provisional=True)


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        pytest.param(date(2026, 1, 31), 1, date(2026, 2, 28), id="to-a-short-month"),
        pytest.param(date(2024, 1, 31), 1, date(2024, 2, 29), id="to-a-leap-february"),
        pytest.param(date(2026, 1, 15), 1, date(2026, 2, 15), id="corresponding-day"),
        pytest.param(date(2026, 3, 31), 1, date(2026, 4, 30), id="31-to-30"),
        pytest.param(date(2026, 11, 30), 3, date(2027, 2, 28), id="over-a-new-year"),
        pytest.param(date(2026, 12, 31), 12, date(2027, 12, 31), id="a-year-of-months"),
        pytest.param(date(2026, 2, 28), 1, date(2026, 3, 28), id="not-the-month-end"),
    ],
)
def test_months_end_on_the_corresponding_day_or_the_month_end(
    start: date, months: int, expected: date
) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("start", "target", "expected"),
    [
        pytest.param(date(2026, 9, 1), "15d", date(2026, 9, 16), id="first-day-not-counted"),
        pytest.param(date(2026, 9, 1), "1d", date(2026, 9, 2), id="one-day"),
        pytest.param(date(2026, 1, 31), "1mo", date(2026, 2, 28), id="a-month"),
        pytest.param(date(2026, 1, 31), "1mo 2d", date(2026, 3, 2), id="months-then-days"),
    ],
)
def test_the_last_day_before_rest_days(start: date, target: str, expected: date) -> None:
    assert last_day(start, parse_amount(target)) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2026, 10, 1), date(2026, 10, 8), id="national-day-moves-to-8-october"),
        pytest.param(date(2026, 10, 7), date(2026, 10, 8), id="last-day-of-the-holiday"),
        pytest.param(date(2026, 10, 8), date(2026, 10, 8), id="a-working-thursday-stays"),
        pytest.param(date(2026, 10, 10), date(2026, 10, 10), id="a-make-up-saturday-is-worked"),
        pytest.param(date(2026, 9, 20), date(2026, 9, 20), id="a-make-up-sunday-is-worked"),
        pytest.param(date(2026, 11, 28), date(2026, 11, 30), id="a-weekend-moves-to-monday"),
        pytest.param(date(2026, 2, 15), date(2026, 2, 24), id="spring-festival"),
        pytest.param(date(2027, 1, 2), date(2027, 1, 4), id="past-covers-weekly-hours"),
    ],
)
def test_a_last_day_on_a_rest_day_moves_to_the_day_after_it(
    china: BusinessCalendar, day: date, expected: date
) -> None:
    assert first_working_day(china, day) == expected


def test_the_issue_example_a_period_ending_on_national_day(china: BusinessCalendar) -> None:
    # 15 days from 16 September 2026 end on 1 October, a holiday to 7 October: 8 October 24:00.
    due = legal_due(china, cst(2026, 9, 16, 15), parse_amount("15d"), "midnight")
    assert due == cst(2026, 10, 9)
    close = legal_due(china, cst(2026, 9, 16, 15), parse_amount("15d"), "close")
    assert close == cst(2026, 10, 8, 18)


def test_a_month_from_31_january_ends_on_28_february(china: BusinessCalendar) -> None:
    # 28 February 2026 is a Saturday and a make-up working day (春节调休): it stays.
    assert legal_due(china, cst(2026, 1, 31, 9), parse_amount("1mo"), "midnight") == cst(2026, 3, 1)


def test_the_time_of_day_of_the_start_does_not_matter(china: BusinessCalendar) -> None:
    early = legal_due(china, cst(2026, 9, 1, 0, 1), parse_amount("15d"), "midnight")
    late = legal_due(china, cst(2026, 9, 1, 23, 59), parse_amount("15d"), "midnight")
    assert early == late == cst(2026, 9, 17)


def test_a_legal_clock_warns_in_plain_time_and_says_how_it_counts(
    china: BusinessCalendar,
) -> None:
    measure = LegalMeasure(china)
    clock = ClockState(name="review")
    note = clocks.start(clock, cst(2026, 9, 16, 15), "15d", measure)
    assert clock.due_at == cst(2026, 10, 9) and clock.provisional is None
    assert note == (
        "review started: 15d of a legal period on cn-workdays (Civil Code arts. 200-204), "
        "due 2026-10-09 00:00 CST"
    )
    assert clock.budget == cst(2026, 10, 9) - cst(2026, 9, 16, 15)
    # A paused day moves the start, so the last day by one day: 2 October, still a holiday.
    clocks.pause(clock, cst(2026, 9, 20, 10))
    clocks.resume(clock, cst(2026, 9, 21, 10), measure)
    assert clock.due_at == cst(2026, 10, 9)


def test_a_legal_clock_past_the_calendar_is_provisional(china: BusinessCalendar) -> None:
    clock = ClockState(name="review")
    clocks.start(clock, cst(2026, 12, 20, 10), "30d", LegalMeasure(china))
    # 19 January 2027 is a Tuesday by the weekly hours; 2027's holidays are not known here.
    assert clock.due_at == cst(2027, 1, 20) and clock.provisional is not None


def test_months_are_only_for_legal_clocks() -> None:
    with pytest.raises(ValueError, match="months \\(mo\\) count only on a legal clock"):
        parse_duration("1mo")


LEGAL = """
process: demo
version: 1
calendar: cn-workdays
stages:
  open: {{initial: true, on: {{close: {{to: closed, roles: [any]}}}}}}
  closed: {{final: true}}
deadlines:
  answer: {{stop: {{enter: closed}}, within: {within}, clock: {clock}{extra}}}
opened_by: [any]
"""


def one_clock(clock: str, within: str, extra: str = "") -> str:
    """A small definition with one deadline ``answer`` (``extra``: more of its keys)."""
    return LEGAL.format(clock=clock, within=within, extra=extra)


@pytest.mark.parametrize(
    ("clock", "within", "problem"),
    [
        ("legal", "15wd", "'15wd': a legal clock counts days (d) and months (mo), e.g. 15d, 1mo"),
        ("legal", "12h", "'12h': a legal clock counts days (d) and months (mo), e.g. 15d, 1mo"),
        ("calendar", "1mo", "'1mo': months (mo) need clock: legal"),
        ("business", "1mo", "'1mo': months (mo) need clock: legal"),
    ],
)
def test_each_clock_takes_only_its_own_units(clock: str, within: str, problem: str) -> None:
    calendars = {"cn-workdays": load_calendar(CALENDARS / "cn-workdays.yaml")}
    text = one_clock(clock, within)
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "demo.yaml", calendars)
    assert caught.value.problems == [f"demo.yaml:9: deadlines.answer.within: {problem}"]


def test_a_legal_clock_needs_a_calendar() -> None:
    text = one_clock("legal", "15d").replace("calendar: cn-workdays\n", "")
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(text, "demo.yaml", {})
    assert "a legal clock needs a calendar" in caught.value.problems[0]


def test_a_span_of_whole_days() -> None:
    assert parse_amount("1mo 15d").months == 1 and parse_amount("1mo 15d").span == timedelta(15)
