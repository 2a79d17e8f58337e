"""The database's report (``summarise_report``) against the defining Python computation
(``build_report``), on SQLite and PostgreSQL: the same figures, the same printed lines."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bench.case_records import generate
from process.spec import Reporting
from service.report_render import render_report, write_csv
from service.report_scope import ReportSettings
from service.report_sql import _high_rank, summarise_report
from service.reports import REPORT_SHARE, DatedBy, GroupBy, Period, build_report
from tests.test_report_periods import january  # noqa: F401  (fixture)
from tests.test_reports import SERVICE, cases  # noqa: F401  (fixture)

SETTINGS = {"service_request": SERVICE}
DAY = timedelta(days=1)
PERIODS = [
    Period(),
    Period(since=datetime(2025, 3, 1, tzinfo=UTC), until=datetime(2025, 4, 1, tzinfo=UTC)),
    Period(since=datetime(2025, 6, 1, tzinfo=UTC), by=DatedBy.CLOSED),
    Period(until=datetime(2025, 2, 1, tzinfo=UTC), by=DatedBy.CLOSED),
]


def same_report(session: Session, **choice: object) -> None:
    expected = [report.summary() for report in build_report(session, SETTINGS, **choice)]  # type: ignore[arg-type]
    found = summarise_report(session, SETTINGS, **choice)  # type: ignore[arg-type]
    assert found == expected
    by = choice.get("by", GroupBy.PROCESS)
    assert isinstance(by, GroupBy)
    assert render_report(found, by) == render_report(expected, by)
    shown, wanted = io.StringIO(), io.StringIO()
    write_csv(found, by, shown)
    write_csv(expected, by, wanted)
    assert shown.getvalue() == wanted.getvalue()


@pytest.mark.parametrize("by", list(GroupBy))
def test_the_report_fixtures(cases: sessionmaker[Session], by: GroupBy) -> None:  # noqa: F811
    with cases() as session:
        same_report(session, by=by)
        same_report(session, by=by, process="complaint")


def test_the_period_fixtures(january: sessionmaker[Session]) -> None:  # noqa: F811
    jan = datetime(2026, 1, 1, tzinfo=UTC)
    with january() as session:
        for period in (Period(), Period(since=jan, until=jan + 31 * DAY)):
            same_report(session, period=period)
        same_report(session, period=Period(since=jan + 31 * DAY, by=DatedBy.CLOSED))


@pytest.mark.parametrize("by", list(GroupBy))
def test_synthetic_records(session_factory: sessionmaker[Session], by: GroupBy) -> None:
    generate(session_factory.kw["bind"], 600, batch_size=250)
    with session_factory() as session:
        for period in PERIODS:
            same_report(session, by=by, period=period)
        same_report(session, by=by, process="service_request")


@pytest.mark.parametrize("by", [GroupBy.TEAM, GroupBy.CATEGORY])
def test_group_values_named_alike_are_one_group(
    session_factory: sessionmaker[Session], by: GroupBy
) -> None:
    # Missing and JSON null are both "-", as is the text "-"; 1 and "1" are both "1".
    generate(session_factory.kw["bind"], 400, odd_values=True, seed=3)
    with session_factory() as session:
        same_report(session, by=by)
        groups = [(r.process, r.group) for r in summarise_report(session, {}, by=by)]
    assert len(groups) == len(set(groups))
    assert {"-", "1", "True", "1.5"} <= {label for _, label in groups}


def test_settings_per_definition_version(session_factory: sessionmaker[Session]) -> None:
    """Version 2 of complaint names other clocks and stages: each case reads its own."""
    generate(session_factory.kw["bind"], 300, seed=5)
    v2 = Reporting(first_response="resolution", resolution="response", review_stages=["handling"],
                   reopen_events=["accept"], team="category")  # fmt: skip
    settings = ReportSettings(by_process=SETTINGS, by_version={("complaint", 2): v2})
    with session_factory() as session:
        whole = summarise_report(session, settings, by=GroupBy.TEAM)
        only_v1 = summarise_report(session, SETTINGS, by=GroupBy.TEAM)
    # The groups of version 2's cases are categories, beside version 1's teams.
    assert {"card", "fee"} <= {r.group for r in whole if r.process == "complaint"}
    assert whole != only_v1
    assert sum(r.opened for r in whole) == sum(r.opened for r in only_v1) == 300


def test_the_high_rank_is_the_nearest_rank_in_integers() -> None:
    for count in range(1, 20_001):
        assert _high_rank(count) == max(math.ceil(REPORT_SHARE * count), 1)


def test_settings_chosen_per_version_match_the_definition(
    session_factory: sessionmaker[Session],
) -> None:
    """Both versions given the same other settings: as if the process had them."""
    generate(session_factory.kw["bind"], 300, seed=11)
    other = Reporting(
        first_response="resolution",
        resolution="response",
        review_stages=["handling"],
        reopen_events=["accept"],
        team="category",
    )
    per_version = ReportSettings(by_version={("complaint", 1): other, ("complaint", 2): other})
    with session_factory() as session:
        for by in GroupBy:
            expected = [r.summary() for r in build_report(session, {"complaint": other}, by=by)]
            assert summarise_report(session, per_version, by=by) == expected
