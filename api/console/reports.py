"""The console's reports page: the same figures as ``starter.py report``, as charts and CSV."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from service.cases import Kesu
from service.report_render import write_csv
from service.report_sql import summarise_report
from service.reports import DatedBy, GroupBy, GroupSummary, Period

from .charts import Bar
from .forms import form_day


@dataclass(frozen=True)
class Choice:
    process: str | None
    by: GroupBy
    period: Period
    since: str
    until: str
    """The dates as entered (YYYY-MM-DD), shown again in the form."""


def _choice(request: Request) -> Choice:
    params = request.query_params
    by = params.get("by", GroupBy.PROCESS.value)
    process = params.get("process") or None
    kesu: Kesu = request.app.state.kesu
    if process not in kesu.processes:
        process = None
    known = {group.value for group in GroupBy}
    dated = DatedBy.CLOSED if params.get("dated") == DatedBy.CLOSED.value else DatedBy.OPENED
    since, until = form_day(params.get("since")), form_day(params.get("until"), end=True)
    return Choice(
        process=process,
        by=GroupBy(by) if by in known else GroupBy.PROCESS,
        period=Period(since=since, until=until, by=dated),
        since=since.date().isoformat() if since else "",
        until=params.get("until", "") if until else "",
    )


def _reports(request: Request, choice: Choice) -> list[GroupSummary] | None:
    records: sessionmaker[Session] | None = request.app.state.records
    if records is None:
        return None
    kesu: Kesu = request.app.state.kesu
    settings = {name: spec.definition.reporting for name, spec in kesu.processes.items()}
    with records() as session:
        return summarise_report(
            session, settings, by=choice.by, process=choice.process, period=choice.period
        )


def _name(report: GroupSummary) -> str:
    return report.process if report.group is None else f"{report.process} · {report.group}"


def _share(met: int, missed: int) -> Bar:
    total = met + missed
    share = met / total if total else None
    text = f"{share:.0%} ({met}/{total})" if share is not None else "–"
    return Bar(label="", value=share, text=text)


def compliance_bars(reports: list[GroupSummary]) -> list[Bar]:
    bars = []
    for report in reports:
        for clock, (met, missed) in sorted(report.compliance.items()):
            bar = _share(met, missed)
            bars.append(Bar(label=f"{_name(report)} · {clock}", value=bar.value, text=bar.text))
    return bars


def rate_bars(reports: list[GroupSummary]) -> list[Bar]:
    bars = []
    for report in reports:
        for label, rate in (
            ("复核 review", report.review_rate),
            ("重开 reopen", report.reopen_rate),
        ):
            text = f"{rate:.0%}" if rate is not None else "–"
            bars.append(Bar(label=f"{_name(report)} · {label}", value=rate, text=text))
    return bars


def hours(found: timedelta | None) -> str:
    return f"{found.total_seconds() / 3600:.1f} h" if found is not None else "–"


def context(request: Request) -> dict[str, Any]:
    choice = _choice(request)
    found = _reports(request, choice)
    kesu: Kesu = request.app.state.kesu
    return {
        "choice": choice,
        "groupings": [g.value for g in GroupBy],
        "processes": sorted(kesu.processes),
        "reports": found,
        "compliance": compliance_bars(found or []),
        "rates": rate_bars(found or []),
        "hours": hours,
        "csv_query": request.url.query,
    }


def csv_response(request: Request) -> Response:
    choice = _choice(request)
    found = _reports(request, choice)
    if found is None:
        return Response("reports need the case database\n", status_code=503)
    out = io.StringIO()
    write_csv(found, choice.by, out)
    headers = {"Content-Disposition": 'attachment; filename="kesu-report.csv"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
