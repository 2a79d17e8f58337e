"""Early-warning rules (投诉预防), pure: parsing, checks with file:line, matching, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from process.loader import DefinitionError, load_directory
from process.warning_loader import load_warnings
from process.warnings import WarningRule, window_of

DEFINITIONS = Path(__file__).parent.parent / "definitions"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def rule(**given: object) -> WarningRule:
    base: dict[str, object] = {
        "processes": ["complaint"], "count_by": "category", "at_least": 3, "window": "7d",
        "notify": ["supervisor"],
    }  # fmt: skip
    return WarningRule.model_validate({**base, **given})


def test_the_shipped_rules_load() -> None:
    rules = load_warnings(DEFINITIONS, load_directory(DEFINITIONS))
    assert set(rules.rules) == {"category_cluster", "branch_cluster"}
    assert rules.rules["branch_cluster"].count_by == "branch"


def test_week_windows_start_on_monday_midnight_in_the_rules_zone() -> None:
    # Thursday 2026-12-03 13:00 UTC is 21:00 in Shanghai; its week began Monday 11-30 00:00.
    start, end = rule().window_of(datetime(2026, 12, 3, 13, 0, tzinfo=UTC))
    assert start == datetime(2026, 11, 30, tzinfo=SHANGHAI)
    assert end == datetime(2026, 12, 7, tzinfo=SHANGHAI)
    # Sunday 16:30 UTC is already Monday in Shanghai: the next window.
    start, _ = rule().window_of(datetime(2026, 12, 6, 16, 30, tzinfo=UTC))
    assert start == datetime(2026, 12, 7, tzinfo=SHANGHAI)


def test_windows_tile_time_without_gaps() -> None:
    at = datetime(2026, 12, 3, 23, 59, 59, tzinfo=SHANGHAI)
    for span in (timedelta(days=1), timedelta(hours=6), timedelta(days=30), timedelta(minutes=1)):
        start, end = window_of(at, span, SHANGHAI)
        assert start <= at < end and end - start == span
        assert window_of(end, span, SHANGHAI)[0] == end
    day = window_of(at, timedelta(days=1), SHANGHAI)
    assert day == (datetime(2026, 12, 3, tzinfo=SHANGHAI), datetime(2026, 12, 4, tzinfo=SHANGHAI))


def test_a_case_counts_under_its_value_when_the_rule_covers_it() -> None:
    only = rule(values=["card", "loan"])
    assert only.key_of("complaint", {"category": "card"}) == "card"
    assert only.key_of("complaint", {"category": "wealth"}) is None
    assert only.key_of("service_request", {"category": "card"}) is None
    assert rule().key_of("complaint", {"category": "  "}) is None
    assert rule().key_of("complaint", {}) is None
    assert rule(count_by="branch").key_of("complaint", {"branch": "浦东支行"}) == "浦东支行"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"window": "15wd"}, r"working days \(wd\) count only on a business clock"),
        ({"window": "400d"}, "a window of at most 366d"),
        ({"at_least": 1}, "greater than or equal to 2"),
        ({"notify": []}, "at least 1 item"),
        ({"timezone": "Mars/Base"}, "unknown time zone"),
    ],
)
def test_a_bad_rule_is_refused(given: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rule(**given)


GOOD = """\
warnings:
  cluster:
    processes: [complaint]
    count_by: category
    at_least: 3
    window: 7d
    notify: [supervisor]
"""


def write(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    (folder / "warnings").mkdir(exist_ok=True)
    path = folder / "warnings" / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rules_are_checked_against_the_definitions_with_file_and_line(tmp_path: Path) -> None:
    definitions = load_directory(DEFINITIONS)
    write(tmp_path, GOOD.replace("[complaint]", "[complaint, complant]").replace(
        "count_by: category\n", "count_by: category\n    values: [card, crad]\n"
    ))  # fmt: skip
    write(tmp_path, GOOD.replace("category", "phone").replace("cluster", "pii"), "b.yaml")
    write(tmp_path, GOOD.replace("category", "amount").replace("cluster", "amount"), "c.yaml")
    write(tmp_path, GOOD.replace("at_least: 3", "at_leest: 3"), "d.yaml")
    with pytest.raises(DefinitionError) as caught:
        load_warnings(tmp_path, definitions)
    assert caught.value.problems == [
        "b.yaml:4: warnings.pii.count_by: 'phone' is customer data (pii)",
        "c.yaml:4: warnings.amount.count_by: a number field cannot be counted by value",
        "d.yaml:2: warnings.cluster: required key 'at_least' is missing",
        "d.yaml:5: warnings.cluster.at_leest: unknown key 'at_leest'; did you mean 'at_least'?",
        "rules.yaml:5: warnings.cluster.values.1: process 'complaint': unknown value 'crad'; "
        "did you mean 'card'?",
        "rules.yaml:3: warnings.cluster.processes.1: unknown process 'complant'; "
        "did you mean 'complaint'?",
    ]


def test_a_rule_name_in_two_files_is_refused(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(tmp_path, GOOD, "again.yaml")
    with pytest.raises(
        DefinitionError, match=r"rules\.yaml:1: warnings\.cluster: also in again\.yaml"
    ):
        load_warnings(tmp_path, load_directory(DEFINITIONS))


def test_no_warnings_folder_means_no_rules(tmp_path: Path) -> None:
    assert load_warnings(tmp_path, {}).rules == {}
