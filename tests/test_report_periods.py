"""``starter.py report --since/--until`` and the responsibility (责任认定) breakdown."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from service.cases import KesuError
from service.records_cli import report_period
from service.report_render import render_report, write_csv
from service.reports import DatedBy, GroupBy, Period, build_report
from tests.records_support import T0, Script, store


def handled(
    sessions: sessionmaker[Session],
    name: str,
    opened: datetime,
    responsibility: str | None,
    closed_after: timedelta | None = None,
) -> None:
    s = Script(f"complaint-{name}", at=opened)
    steps = [s.open(team="cards"), s.step("accept", "triage")]
    if responsibility is not None:
        steps.append(s.step("propose", "closure", data={"responsibility": responsibility}))
    if closed_after is not None:
        steps.append(s.step("close", "closed", after=closed_after, final=True))
    store(sessions, *steps)


@pytest.fixture
def january(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    day = timedelta(days=1)
    jan = datetime(2026, 1, 1, tzinfo=UTC)
    handled(session_factory, "a", jan + 2 * day, "bank", closed_after=40 * day)  # closed Feb
    handled(session_factory, "b", jan + 10 * day, "customer", closed_after=1 * day)
    handled(session_factory, "c", jan + 30 * day, "bank", closed_after=2 * day)  # closed Feb 2
    handled(session_factory, "d", jan + 45 * day, None)  # February, open
    return session_factory


def opened_ids(sessions: sessionmaker[Session], period: Period) -> int:
    with sessions() as session:
        return sum(report.opened for report in build_report(session, {}, period=period))


def test_cases_by_opening_date(january: sessionmaker[Session]) -> None:
    whole_january = report_period("2026-01-01", "2026-01-31", DatedBy.OPENED, "UTC")
    assert opened_ids(january, whole_january) == 3
    assert opened_ids(january, report_period("2026-01-31", None, DatedBy.OPENED, "UTC")) == 2
    assert opened_ids(january, report_period(None, "2026-01-10", DatedBy.OPENED, "UTC")) == 1
    assert opened_ids(january, report_period(None, "2026-01-11", DatedBy.OPENED, "UTC")) == 2
    assert opened_ids(january, Period()) == 4


def test_cases_by_closing_date(january: sessionmaker[Session]) -> None:
    february = report_period("2026-02-01", "2026-02-28", DatedBy.CLOSED, "UTC")
    assert opened_ids(january, february) == 2  # a and c closed in February; d never closed


def test_a_date_is_read_in_the_given_zone(january: sessionmaker[Session]) -> None:
    # Case b opened 2026-01-11 00:00 UTC, 08:00 in Shanghai: the 11th there runs from
    # 2026-01-10T16:00Z to 2026-01-11T16:00Z.
    period = report_period("2026-01-11", "2026-01-11", DatedBy.OPENED, "Asia/Shanghai")
    assert period.since == datetime(2026, 1, 10, 16, tzinfo=UTC)
    assert period.until == datetime(2026, 1, 11, 16, tzinfo=UTC)
    assert opened_ids(january, period) == 1


@pytest.mark.parametrize(
    ("since", "until", "tz", "problem"),
    [
        ("2026-13-01", None, "UTC", "--since: '2026-13-01' is not a date"),
        (None, "yesterday", "UTC", "--until: 'yesterday' is not a date"),
        ("2026-02-01", "2026-01-01", "UTC", "--since must come before --until"),
        (None, None, "Mars/Olympus", "--tz: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_dates_are_refused_by_option(
    since: str | None, until: str | None, tz: str, problem: str
) -> None:
    with pytest.raises(KesuError, match=problem):
        report_period(since, until, DatedBy.OPENED, tz)


def test_responsibility_breakdown(january: sessionmaker[Session]) -> None:
    with january() as session:
        (report,) = build_report(session, {})
    assert report.responsibility == {"bank": 2, "customer": 1}
    assert "责任认定 responsibility bank 2, customer 1" in render_report([report], GroupBy.PROCESS)
    out = io.StringIO()
    write_csv([report], GroupBy.PROCESS, out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert (row["responsibility_bank"], row["responsibility_customer"]) == ("2", "1")


def test_a_later_attribution_replaces_the_earlier(session_factory: sessionmaker[Session]) -> None:
    s = Script("complaint-re", at=T0)
    store(
        session_factory,
        s.open(),
        s.step("propose", "closure", data={"responsibility": "customer"}),
        s.step("dissatisfied", "handling"),
        s.step("propose", "closure", data={"responsibility": "bank"}),
    )
    with session_factory() as session:
        (report,) = build_report(session, {})
    assert report.responsibility == {"bank": 1}
