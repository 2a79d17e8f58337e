"""Root causes and open rectifications in the records (``report``, ``report --causes``), computed
by SQLite and PostgreSQL alike: by category and team, and by ISO week in a zone's offset."""

from __future__ import annotations

import argparse
import asyncio
import io
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from service import records_cli
from service.cases import Kesu
from service.report_causes import (
    CauseCount,
    OpenRectifications,
    WeeklyCause,
    cause_report,
    causes_by_week,
)
from service.report_causes_render import render_causes, width
from service.reports import DatedBy, Period
from tests.records_support import Script, store

MONDAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, ISO week 2026-W10
SHANGHAI = timedelta(hours=8)
CARD = {"customer_id": "C-1", "category": "card", "team": "银行卡与信贷"}
LOAN = {"customer_id": "C-2", "category": "loan", "team": "个人信贷"}


def closed_case(
    sessions: sessionmaker[Session],
    case_id: str,
    fields: dict[str, str],
    finding: dict[str, str],
    *,
    at: datetime = MONDAY,
    rectification: str | None = None,
) -> None:
    """A case closed at ``at`` with ``finding``; its rectification 'open', 'overdue' or 'done'."""
    script = Script(
        case_id, at=at - timedelta(minutes=10), fields=fields, clocks=("rectification",)
    )
    steps = [script.open()]
    start = ("rectification",) if rectification else ()
    steps.append(script.step("close", "closed", role="handler", data=finding, start=start))
    clock = script.clocks["rectification"]
    if rectification == "overdue":
        clock.breached_at = clock.due_at
        steps.append(
            script.step("deadline.breached:rectification", "closed", after=timedelta(days=2))
        )
    if rectification == "done":
        steps.append(script.step("rectification_done", "closed", stop=("rectification",)))
    store(sessions, *steps)


@pytest.fixture
def records(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    staff = {"responsibility": "staff", "root_cause": "业务规则"}
    closed_case(session_factory, "c1", CARD, staff, rectification="open")
    closed_case(session_factory, "c2", CARD, staff, rectification="overdue")
    system = {"responsibility": "process", "root_cause": "系统故障"}
    closed_case(session_factory, "c3", CARD, system, rectification="done")
    customer = {"responsibility": "customer", "root_cause": "客户误解"}
    closed_case(session_factory, "c4", LOAN, customer, at=MONDAY + timedelta(days=7))
    # Sunday 20:00 UTC is Monday 04:00 in Shanghai: week 10 in UTC, week 11 there.
    closed_case(session_factory, "c5", LOAN, customer, at=datetime(2026, 3, 8, 20, 0, tzinfo=UTC))
    store(session_factory, Script("c6", fields=CARD).open())  # open, no finding yet
    return session_factory


def test_root_causes_and_open_rectifications_by_category_and_team(
    records: sessionmaker[Session],
) -> None:
    with records() as session:
        report = cause_report(session, {})
    assert report.by_group == [
        CauseCount("complaint", "card", "银行卡与信贷", "业务规则", 2),
        CauseCount("complaint", "card", "银行卡与信贷", "系统故障", 1),
        CauseCount("complaint", "loan", "个人信贷", "客户误解", 2),
    ]
    # The one done is no longer open; the overdue one is open and counted as overdue.
    assert report.rectifications == [
        OpenRectifications("complaint", "card", "银行卡与信贷", open=2, overdue=1)
    ]


def test_root_causes_by_iso_week_in_utc_and_in_a_zone(records: sessionmaker[Session]) -> None:
    with records() as session:
        in_utc = causes_by_week(session, {})
        in_shanghai = causes_by_week(session, {}, offset=SHANGHAI)
        only_loans = causes_by_week(session, {}, offset=SHANGHAI, process="nothing")
        march_9_on = causes_by_week(
            session, {}, period=Period(since=datetime(2026, 3, 8, tzinfo=UTC), by=DatedBy.OPENED)
        )
    assert in_utc == [
        WeeklyCause("2026-W10", "业务规则", 2),
        WeeklyCause("2026-W10", "客户误解", 1),
        WeeklyCause("2026-W10", "系统故障", 1),
        WeeklyCause("2026-W11", "客户误解", 1),
    ]
    assert in_shanghai == [
        WeeklyCause("2026-W10", "业务规则", 2),
        WeeklyCause("2026-W10", "系统故障", 1),
        WeeklyCause("2026-W11", "客户误解", 2),
    ]
    assert only_loans == []
    assert march_9_on == [
        WeeklyCause("2026-W10", "客户误解", 1),
        WeeklyCause("2026-W11", "客户误解", 1),
    ]


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 12, 31, 12, tzinfo=UTC), datetime(2027, 1, 3, 12, tzinfo=UTC),
     datetime(2027, 1, 4, 12, tzinfo=UTC), datetime(2024, 12, 30, 12, tzinfo=UTC),
     datetime(2021, 1, 1, 12, tzinfo=UTC)],
)  # fmt: skip
def test_iso_weeks_across_the_new_year_are_pythons(
    session_factory: sessionmaker[Session], moment: datetime
) -> None:
    closed_case(session_factory, "y1", CARD, {"responsibility": "customer", "root_cause": "其他"},
                at=moment)  # fmt: skip
    year, week, _ = moment.isocalendar()
    with session_factory() as session:
        assert causes_by_week(session, {}) == [WeeklyCause(f"{year}-W{week:02d}", "其他", 1)]


def test_the_causes_table_aligns_chinese_labels(records: sessionmaker[Session]) -> None:
    with records() as session:
        text = render_causes(cause_report(session, {}, offset=SHANGHAI), SHANGHAI)
    lines = text.splitlines()
    assert lines[:4] == [
        "根本原因趋势 Root causes by ISO week of the finding (UTC+08:00)",
        "  周 week   根本原因 root cause  件数 cases",
        "  2026-W10  业务规则                      2",
        "  2026-W10  系统故障                      1",
    ]
    assert "整改 Open rectifications, by category and team" in lines
    trend = lines[1:5]
    assert len({width(line) for line in trend}) == 1  # every row as wide, in terminal columns


def test_starter_report_causes_and_the_plain_reports_section(
    records: sessionmaker[Session], database_url: str
) -> None:
    parser = argparse.ArgumentParser()
    records_cli.add_commands(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> str:
        out = io.StringIO()
        args = parser.parse_args(["report", *argv])
        assert asyncio.run(records_cli.run(args, database_url, {}, _no_kesu, out)) == 0
        return out.getvalue()

    causes = run("--causes", "--tz", "Asia/Shanghai")
    assert "2026-W11  客户误解" in causes
    csv_text = run("--causes", "--csv")
    assert csv_text.splitlines()[:2] == ["week,cause,cases", "2026-W10,业务规则,2"]
    plain = run()
    assert "整改 Open rectifications, by category and team" in plain
    assert "根本原因 Root causes, by category and team" in plain


def _no_kesu() -> AbstractAsyncContextManager[Kesu]:
    raise AssertionError("a report needs no Temporal")
