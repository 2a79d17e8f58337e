"""Adding a year to a calendar by hand, and publishing new calendar data to a running case (pure
engine). The year used is INVENTED TEST DATA (tests/calendar_notices), not 2027's real dates."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from process.calendar_years import add_year
from process.engine import CaseEngine
from process.loader import DefinitionError, load_calendar
from process.recalendar import CalendarUpdate, change_reason
from process.refusals import IllegalEvent, RefusalKind
from tests.test_provisional import late_spec

CALENDARS = Path(__file__).parent.parent / "definitions" / "calendars"
INVENTED = Path(__file__).parent / "calendar_notices" / "invented_2027.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def cst(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def calendar_file(tmp_path: Path) -> Path:
    return Path(shutil.copy(CALENDARS / "cn-workdays.yaml", tmp_path / "cn-workdays.yaml"))


def test_a_year_is_merged_keeping_the_file_as_it_was(calendar_file: Path) -> None:
    before = calendar_file.read_text(encoding="utf-8")
    text, merged = add_year(calendar_file, INVENTED)
    assert merged.covers.last == date(2027, 12, 31)
    assert merged.holidays[date(2027, 1, 2)] == "测试元旦 Test New Year (invented)"
    assert len([d for d in merged.holidays if d.year == 2027]) == 11
    assert sorted(d for d in merged.workdays if d.year == 2027) == [
        date(2027, 1, 9),
        date(2027, 2, 13),
    ]
    old = load_calendar(CALENDARS / "cn-workdays.yaml")
    assert {d: n for d, n in merged.holidays.items() if d.year < 2027} == old.holidays
    assert text.startswith(before.split("covers:")[0])  # the header comment is kept
    calendar_file.write_text(text, encoding="utf-8")
    assert load_calendar(calendar_file) == merged
    with pytest.raises(DefinitionError, match="the next year to add is 2028, not 2027"):
        add_year(calendar_file, INVENTED)  # the same year twice


def broken(tmp_path: Path, old: str, new: str) -> list[str]:
    notice = tmp_path / "notice.yaml"
    text = INVENTED.read_text(encoding="utf-8")
    assert old in text
    notice.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        add_year(Path(shutil.copy(CALENDARS / "cn-workdays.yaml", tmp_path)), notice)
    return caught.value.problems


def test_a_make_up_day_must_be_a_weekend(tmp_path: Path) -> None:
    assert broken(tmp_path, "on: 2027-01-09}", "on: 2027-01-07}") == [
        "notice.yaml:11: workdays.0: 2027-01-07 is a Thursday: a make-up working day is a "
        "Saturday or Sunday"
    ]


def test_a_holiday_cannot_be_a_make_up_day_and_every_problem_is_named(tmp_path: Path) -> None:
    found = broken(tmp_path, "on: 2027-02-13}", "on: 2027-02-06}")
    assert found == [
        "notice.yaml:9: holidays.2: 2027-02-06 is also a make-up working day",
        "notice.yaml:12: workdays.1: 2027-02-06 is listed twice (also 测试春节 Test Spring "
        "Festival (invented))",
    ]


def test_dates_must_be_in_the_year(tmp_path: Path) -> None:
    found = broken(tmp_path, "on: 2027-01-11}", "on: 2028-01-11}")
    assert found == ["notice.yaml:8: holidays.1: 2028-01-11 is not in 2027"]


def test_a_year_that_does_not_follow_the_calendar_is_refused(tmp_path: Path) -> None:
    found = broken(tmp_path, "year: 2027", "year: 2028")
    assert found[0] == (
        "notice.yaml:4: year: cn-workdays covers to 2026-12-31: the next year to add is 2027, "
        "not 2028"
    )


def test_a_day_is_written_one_way(tmp_path: Path) -> None:
    found = broken(tmp_path, "on: 2027-01-11}", "on: 2027-01-11, from: 2027-01-11}")
    assert len(found) == 1 and found[0].startswith("notice.yaml:8: holidays.1")
    assert "write 'on: <date>' or 'from: <date>, to: <date>'" in found[0]


def test_a_published_year_retargets_a_running_clock(calendar_file: Path) -> None:
    engine, _ = CaseEngine.open(late_spec(), "late-1", {}, "王敏", cst(2026, 12, 21, 10))
    assert engine.state.clocks["answer"].due_at == cst(2027, 1, 11, 18)  # provisional
    _, invented = add_year(calendar_file, INVENTED)
    update = CalendarUpdate.of(invented, actor="运维 ops")
    outcome = engine.update_calendar(update, cst(2026, 12, 22, 9))
    # Dec 22-31: 8 working days; 1 Jan off, 4-8 Jan, make-up Saturday 9 Jan, 11 Jan off, 12 Jan.
    clock = engine.state.clocks["answer"]
    assert clock.due_at == cst(2027, 1, 12, 18) and clock.provisional is None
    step = outcome.step
    assert (step.event, step.actor, step.seq) == ("calendar.updated", "运维 ops", 1)
    assert step.notes[0] == "calendar cn-workdays updated: 2027 added"
    assert step.notes[1].startswith("answer due 2027-01-11 18:00 CST PROVISIONAL (calendar")
    assert step.notes[1].endswith(
        " → 2027-01-12 18:00 CST (calendar cn-workdays updated: 2027 added)"
    )
    assert len(step.notes) == 2
    assert engine.spec.calendars["cn-workdays"] == invented  # kept, e.g. for continue-as-new
    assert clock.explain[-1] == step.notes[1]


def test_a_case_refuses_a_calendar_it_has_or_a_garbled_one(calendar_file: Path) -> None:
    engine, _ = CaseEngine.open(late_spec(), "late-2", {}, "王敏", cst(2026, 12, 21, 10))
    same = CalendarUpdate.of(load_calendar(CALENDARS / "cn-workdays.yaml"))
    refusal = engine.calendar_problem(same)
    assert refusal is not None and refusal.kind is RefusalKind.CONFLICT
    assert refusal.message.endswith("already in use, unchanged")
    _, invented = add_year(calendar_file, INVENTED)
    garbled = CalendarUpdate(calendar=invented, content_hash="0" * 64)
    with pytest.raises(IllegalEvent, match="content hash does not match"):
        engine.update_calendar(garbled, cst(2026, 12, 22, 9))
    assert len(engine.state.steps) == 1


def test_the_reason_names_what_was_added() -> None:
    old = load_calendar(CALENDARS / "cn-workdays.yaml")
    later = old.model_copy(
        update={"covers": old.covers.model_copy(update={"last": date(2028, 12, 31)})}
    )
    assert change_reason(old, later) == "calendar cn-workdays updated: 2027-2028 added"
    assert change_reason(old, old) == "calendar cn-workdays updated: dates changed"
