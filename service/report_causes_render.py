"""Root causes and rectifications for people: aligned tables, in which a Chinese character
takes two columns of a terminal (as it does), and CSV for spreadsheets."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Sequence
from datetime import timedelta
from typing import IO

from .report_causes import CauseReport


def width(text: str) -> int:
    """Terminal columns of ``text``: wide and full-width characters (汉字, ，) take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Left-aligned columns two spaces apart (numbers right-aligned), indented by two."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(width(line[index]) for line in [list(headers), *cells]) for index in range(len(headers))
    ]
    numeric = [
        bool(rows) and all(isinstance(row[i], int) for row in rows) for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            " " * (widths[i] - width(value)) + value if numeric[i] else _pad(value, widths[i])
            for i, value in enumerate(values)
        ]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(list(headers)), *(line(row) for row in cells)]


def _zone_label(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def rectification_lines(report: CauseReport) -> list[str]:
    """The section the plain ``report`` ends with: open rectifications and root causes by
    category and team; nothing when the records hold neither."""
    lines: list[str] = []
    if report.rectifications:
        lines.append("整改 Open rectifications, by category and team")
        rows = [
            (item.process, item.category, item.team, item.open, item.overdue)
            for item in report.rectifications
        ]
        headers = ("流程 process", "类别 category", "团队 team", "未完成 open", "逾期 overdue")
        lines += table(headers, rows)
    if report.by_group:
        lines.append("根本原因 Root causes, by category and team")
        rows_by_group = [
            (item.process, item.category, item.team, item.cause, item.cases)
            for item in report.by_group
        ]
        headers = (
            "流程 process",
            "类别 category",
            "团队 team",
            "根本原因 root cause",
            "件数 cases",
        )
        lines += table(headers, rows_by_group)
    return lines


def render_causes(report: CauseReport, offset: timedelta = timedelta()) -> str:
    """``report --causes``: the weekly trend of root causes, then the section by group."""
    title = f"根本原因趋势 Root causes by ISO week of the finding ({_zone_label(offset)})"
    if report.empty:
        return f"{title}\n  (no root causes recorded)"
    lines = [title]
    weeks = [(item.week, item.cause, item.cases) for item in report.by_week]
    lines += table(("周 week", "根本原因 root cause", "件数 cases"), weeks)
    return "\n".join([*lines, *rectification_lines(report)])


def write_causes_csv(report: CauseReport, out: IO[str]) -> None:
    """One row per week and cause: ``week,cause,cases``."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["week", "cause", "cases"])
    for item in report.by_week:
        writer.writerow([item.week, item.cause, item.cases])
