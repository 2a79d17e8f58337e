"""``starter.py report``'s numbers from stored cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from process.spec import Reporting
from runtime import publications
from service.report_render import render_report, write_csv
from service.report_sql import summarise_report
from service.reports import GroupBy, GroupReport, build_report, median, percentile
from service.versions import PublishedDefinitions
from tests.records_support import Script, store
from tests.versions_support import CLAIM_V1, write_definitions

CARDS, WEALTH = "银行卡与信贷 cards", "财富管理 wealth"
SERVICE = Reporting(first_response="answer", resolution="handle")


def complaint(
    sessions: sessionmaker[Session],
    name: str,
    team: str,
    *,
    respond_after: timedelta,
    csat: int | None = None,
    nps: int | None = None,
    reopen: bool = False,
    review: bool = False,
    missed: bool = False,
) -> None:
    s = Script(f"complaint-{name}", clocks=("response", "resolution"))
    steps = [
        s.open(team=team, category="card"),
        s.step("accept", "triage", start=("response", "resolution")),
        s.step(
            "assign", "handling", after=respond_after, data={"assignee": "陈静"}, stop=("response",)
        )
        if not missed
        else s.step("assign", "handling", after=respond_after, missed=("response",)),
        s.step("propose", "feedback", after=timedelta(days=2), stop=("resolution",)),
    ]
    if reopen:
        steps.append(s.step("dissatisfied", "handling", data={"csat": 1}))
    if csat is not None or nps is not None:
        answers = {key: value for key, value in (("csat", csat), ("nps", nps)) if value is not None}
        steps.append(s.step("satisfied", "closure", actor="customer", data=answers))
    if review:
        steps.append(s.step("request_review", "review", actor="customer"))
    steps.append(s.step("archive", "archived", final=True))
    store(sessions, *steps)


@pytest.fixture
def cases(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    hour = timedelta(hours=1)
    complaint(session_factory, "1", CARDS, respond_after=1 * hour, csat=5, nps=10)
    complaint(session_factory, "2", CARDS, respond_after=3 * hour, csat=4, nps=8, review=True)
    complaint(session_factory, "3", CARDS, respond_after=30 * hour, csat=2, nps=3, missed=True)
    complaint(session_factory, "4", WEALTH, respond_after=2 * hour, reopen=True, csat=5)
    s = Script("service_request-1", process="service_request", prefix="SR", clocks=("answer",))
    store(session_factory, s.open(), s.step("answer", "handling", start=("answer",)))
    return session_factory


def test_report_per_process(cases: sessionmaker[Session]) -> None:
    with cases() as session:
        reports = build_report(session, {"service_request": SERVICE})
    complaints, service = reports
    assert (complaints.process, complaints.opened, complaints.closed) == ("complaint", 4, 4)
    assert complaints.compliance == {"response": [3, 1], "resolution": [4, 0]}
    assert sorted(complaints.first_response) == [timedelta(hours=h) for h in (1, 2, 3, 30)]
    assert median(complaints.first_response) == timedelta(hours=2.5)
    assert percentile(complaints.first_response, 0.9) == timedelta(hours=30)
    assert sorted(complaints.resolution) == [timedelta(days=2, hours=h) for h in (1, 2, 3, 30)]
    # Case 4 answered 1 when it was reopened, then 5: its latest answer counts.
    assert sorted(complaints.csat) == [2, 4, 5, 5] and complaints.csat_satisfied == 0.75
    assert complaints.nps_score == pytest.approx(100 * (1 - 1) / 3)
    assert (complaints.review_rate, complaints.reopen_rate) == (0.25, 0.25)
    assert (service.opened, service.closed, service.compliance) == (1, 0, {"answer": [0, 0]})


def test_report_per_team_and_one_process(cases: sessionmaker[Session]) -> None:
    with cases() as session:
        reports = build_report(session, {}, by=GroupBy.TEAM, process="complaint")
    by_team = {report.group: report for report in reports}
    assert set(by_team) == {CARDS, WEALTH}
    assert by_team[CARDS].opened == 3 and by_team[CARDS].compliance["response"] == [2, 1]
    assert by_team[WEALTH].reopen_rate == 1.0 and by_team[WEALTH].nps_score is None


def test_text_and_csv(cases: sessionmaker[Session]) -> None:
    with cases() as session:
        reports = build_report(session, {"service_request": SERVICE}, by=GroupBy.TEAM)
    shown = render_report(reports, GroupBy.TEAM)
    assert f"complaint · team {CARDS}" in shown
    assert "response 2/3 met (67%)" in shown
    assert "first response   median 3h, p90 1d 6h (n=3)" in shown
    out = io.StringIO()
    write_csv(reports, GroupBy.TEAM, out)
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    cards = next(row for row in table if row["team"] == CARDS)
    assert cards["opened"] == "3" and cards["response_compliance_pct"] == "66.7"
    assert cards["first_response_median_h"] == "3.00" and cards["csat_mean"] == "3.67"
    service = next(row for row in table if row["process"] == "service_request")
    assert service["team"] == "-" and service["csat_mean"] == "" and service["response_met"] == "0"


def test_an_empty_group_has_no_rates() -> None:
    empty = GroupReport("complaint", None)
    assert (empty.review_rate, empty.csat_mean, empty.nps_score) == (None, None, None)
    assert render_report([], GroupBy.PROCESS) == "(no cases)"


def test_each_case_counts_by_its_own_published_version(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    # v1 counts the "response" clock as the first response; v2 renamed it "contact". A v1 case
    # reports by v1's section although the current file (the settings given) is v2's.
    folder = write_definitions(tmp_path / "defs", CLAIM_V1.replace(
        "deadlines:", "reporting: {first_response: response}\ndeadlines:"
    ))  # fmt: skip
    (v1,) = PublishedDefinitions(session_factory).publish(publications(folder), by="designer")
    current = {"claim": Reporting(first_response="contact", resolution="resolution")}
    s = Script(
        "claim-1", process="claim", prefix="CL", clocks=("response",),
        content_hash=v1.spec.content_hash,
    )  # fmt: skip
    store(
        session_factory,
        s.open(),
        s.step("accept", "handling", start=("response",)),
        s.step("close", "closed", after=timedelta(hours=3), stop=("response",), final=True),
    )
    with session_factory() as session:
        (report,) = build_report(session, current)
        (summary,) = summarise_report(session, current)  # what the CLI and the console run
    assert report.first_response == [timedelta(hours=3)]
    assert summary.first_response.n == 1
    assert summary.first_response.p50 == timedelta(hours=3)
