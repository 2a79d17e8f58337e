"""The case report as text for people and as CSV for spreadsheets (``starter.py report``).

Both print ``GroupSummary`` figures; a ``GroupReport`` (every value, ``build_report``) is
summarised first, so the two computations print through the same lines.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import timedelta
from typing import IO

from process.clocks import format_duration

from .reports import GroupBy, GroupReport, GroupSummary, Times

Figures = GroupReport | GroupSummary


def summaries(reports: Iterable[Figures]) -> list[GroupSummary]:
    return [r.summary() if isinstance(r, GroupReport) else r for r in reports]


def _span(value: timedelta | None) -> str:
    if value is None:
        return "-"
    return format_duration(timedelta(minutes=round(value.total_seconds() / 60))) or "0m"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _times(times: Times) -> str:
    if not times.n:
        return "-"
    return f"median {_span(times.median)}, p90 {_span(times.p90)} (n={times.n})"


def _compliance(report: GroupSummary) -> str:
    parts = []
    for name, (met, missed) in report.compliance.items():
        decided = met + missed
        share = _pct(met / decided) if decided else "-"
        parts.append(f"{name} {met}/{decided} met ({share})")
    return ", ".join(parts) or "-"


def _parties(report: GroupSummary) -> str:
    ranked = sorted(report.responsibility.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{party} {count}" for party, count in ranked) or "-"


def render_report(reports: Iterable[Figures], by: GroupBy) -> str:
    lines: list[str] = []
    for report in summaries(reports):
        title = report.process + ("" if report.group is None else f" · {by.value} {report.group}")
        csat = "-"
        if report.csat_mean is not None:
            satisfied = _pct(report.csat_satisfied)
            csat = f"{report.csat_mean:.1f} of 5, {satisfied} satisfied (n={report.csat_n})"
        nps = "-" if report.nps_score is None else f"{report.nps_score:+.0f} (n={report.nps_n})"
        lines += [
            title,
            f"  opened {report.opened}, closed {report.closed}",
            f"  first response   {_times(report.first_response)}",
            f"  resolution       {_times(report.resolution)}",
            f"  deadlines        {_compliance(report)}",
            f"  CSAT             {csat}",
            f"  NPS              {nps}",
            f"  review rate 复核率 {_pct(report.review_rate)}, "
            f"reopen rate {_pct(report.reopen_rate)}",
            f"  责任认定 responsibility {_parties(report)}",
        ]
    return "\n".join(lines) if lines else "(no cases)"


def _hours(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 3600:.2f}"


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def write_csv(given: Iterable[Figures], by: GroupBy, out: IO[str]) -> None:
    """One row per group; durations in hours, rates in percent, empty where nothing counted."""
    reports = summaries(given)
    clocks = sorted({name for report in reports for name in report.compliance})
    parties = sorted({party for report in reports for party in report.responsibility})
    header = ["process"] + ([] if by is GroupBy.PROCESS else [by.value])
    header += ["opened", "closed"]
    for measure in ("first_response", "resolution"):
        header += [f"{measure}_median_h", f"{measure}_p90_h", f"{measure}_n"]
    header += ["csat_mean", "csat_satisfied_pct", "csat_n", "nps", "nps_n"]
    header += ["review_rate_pct", "reopen_rate_pct"]
    for name in clocks:
        header += [f"{name}_met", f"{name}_missed", f"{name}_compliance_pct"]
    header += [f"responsibility_{party}" for party in parties]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for report in reports:
        row = [report.process] + ([] if by is GroupBy.PROCESS else [report.group or ""])
        row += [str(report.opened), str(report.closed)]
        for times in (report.first_response, report.resolution):
            row += [_hours(times.median), _hours(times.p90), str(times.n)]
        satisfied = report.csat_satisfied
        row += [
            _number(report.csat_mean),
            _number(None if satisfied is None else 100 * satisfied, 1),
            str(report.csat_n),
            _number(report.nps_score, 1),
            str(report.nps_n),
        ]
        for rate in (report.review_rate, report.reopen_rate):
            row.append(_number(None if rate is None else 100 * rate, 1))
        for name in clocks:
            met, missed = report.compliance.get(name, [0, 0])
            share = 100 * met / (met + missed) if met + missed else None
            row += [str(met), str(missed), _number(share, 1)]
        row += [str(report.responsibility.get(party, 0)) for party in parties]
        writer.writerow(row)
