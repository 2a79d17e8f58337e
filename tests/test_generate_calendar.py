"""``tools/generate_calendar.py`` regenerates from ``chinesecalendar`` and keeps what it lacks.

The year added by hand is INVENTED TEST DATA (tests/calendar_notices), not 2027's real dates.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from process.calendar_years import add_year
from process.loader import load_calendar

ROOT = Path(__file__).parent.parent
SHIPPED = ROOT / "definitions" / "calendars" / "cn-workdays.yaml"
TOOL = ROOT / "tools" / "generate_calendar.py"
INVENTED = Path(__file__).parent / "calendar_notices" / "invented_2027.yaml"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_calendar", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def with_2027(tmp_path: Path) -> Path:
    """The shipped calendar with an (invented) 2027 added by hand, as add-year writes it."""
    path = Path(shutil.copy(SHIPPED, tmp_path / "cn-workdays.yaml"))
    text, _ = add_year(path, INVENTED)
    path.write_text(text, encoding="utf-8")
    return path


def test_regenerating_the_shipped_calendar_changes_nothing(tool: ModuleType) -> None:
    text, kept = tool.render(2004, load_calendar(SHIPPED))
    assert text == SHIPPED.read_text(encoding="utf-8")
    assert kept == []


def test_a_year_added_by_hand_is_kept(tool: ModuleType, with_2027: Path) -> None:
    by_hand = load_calendar(with_2027)
    text, kept = tool.render(2004, by_hand)
    assert kept == [2027]
    regenerated = with_2027.with_name("out") / "cn-workdays.yaml"
    regenerated.parent.mkdir()
    regenerated.write_text(text, encoding="utf-8")
    again = load_calendar(regenerated)
    assert again.covers.last == date(2027, 12, 31)
    assert {d: n for d, n in again.holidays.items() if d.year == 2027} == {
        d: n for d, n in by_hand.holidays.items() if d.year == 2027
    }
    assert again.workdays[date(2027, 1, 9)] == "测试调休 Test make-up day (invented)"
    # The years the package knows come from the package, unchanged.
    assert {d: n for d, n in again.holidays.items() if d.year < 2027} == load_calendar(
        SHIPPED
    ).holidays


def test_the_package_wins_for_the_years_it_knows(tool: ModuleType, with_2027: Path) -> None:
    """A package that learnt 2027 replaces the hand-made dates with its own (fake ones here)."""
    holidays, workdays = tool._package_days()
    holidays = {**holidays, date(2027, 1, 1): "元旦 New Year's Day"}
    text, kept = tool.render(2004, load_calendar(with_2027), (holidays, workdays))
    assert kept == []
    assert "2027-01-01: 元旦 New Year's Day" in text
    assert "invented" not in text
    assert "covers: {from: 2004-01-01, to: 2027-12-31}" in text
    assert tool.replaced_years(load_calendar(with_2027), (holidays, workdays)) == [2027]
    assert tool.replaced_years(load_calendar(SHIPPED)) == []


def test_the_command_says_which_years_it_kept(with_2027: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(TOOL), "--output", str(with_2027)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert "kept 2027 from the existing file" in result.stdout
    assert load_calendar(with_2027).covers.last == date(2027, 12, 31)
