"""Small inline SVG drawings for the console: a deadline clock on a time line, and bar charts.

Drawn on the server as plain SVG (no script, no library) so the pages work on an offline network
and in any browser; every shape has a text equivalent beside it for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from api import models

WIDTH, HEIGHT, PAD = 560, 54, 12


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    """A share from 0 to 1, or None when there is nothing to measure."""
    text: str


def _x(moment: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds() or 1.0
    share = (moment - start).total_seconds() / span
    return PAD + max(0.0, min(1.0, share)) * (WIDTH - 2 * PAD)


def clock_line(
    clock: models.Clock, now: datetime, words: dict[str, str], warned: Sequence[datetime] = ()
) -> Markup:
    """A clock from its start to its due time (or now), with its pause, the warnings given,
    its breach and its stop marked."""
    if clock.started_at is None:
        return Markup("")
    start = clock.started_at
    moments = [m for m in (clock.due_at, clock.stopped_at, clock.breached_at, now) if m]
    end = max(moments)
    if end <= start:
        return Markup("")
    y = HEIGHT / 2
    parts = [
        f'<line x1="{PAD}" y1="{y}" x2="{WIDTH - PAD}" y2="{y}" class="axis"/>',
        _mark(start, start, end, "start", words["started"]),
    ]
    if clock.paused_at is not None:
        x1 = _x(clock.paused_at, start, end)
        x2 = _x(now, start, end)
        parts.append(
            f'<rect x="{x1:.1f}" y="{y - 6}" width="{max(x2 - x1, 2):.1f}" height="12" '
            f'class="pause"><title>{escape(words["paused"])}</title></rect>'
        )
    parts.extend(_mark(at, start, end, "warning", words["warning"]) for at in warned)
    if clock.due_at is not None:
        kind = "due provisional" if clock.provisional else "due"
        label = words["due"] + (f" ({words['provisional']})" if clock.provisional else "")
        parts.append(_mark(clock.due_at, start, end, kind, label))
    if clock.breached_at is not None:
        parts.append(_mark(clock.breached_at, start, end, "breach", words["breached"]))
    if clock.stopped_at is not None:
        parts.append(_mark(clock.stopped_at, start, end, "stop", words["stopped"]))
    elif clock.status != "stopped":
        parts.append(_mark(now, start, end, "now", words["now"]))
    title = escape(clock.title or clock.name)
    return Markup(
        f'<svg class="clock" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{title}">{"".join(parts)}</svg>'
    )


def _mark(moment: datetime, start: datetime, end: datetime, kind: str, label: str) -> str:
    x = _x(moment, start, end)
    y = HEIGHT / 2
    # "now" is labelled above the line, the clock's own moments below, so they never collide.
    text_y = y - 17 if kind == "now" else y + 25
    anchor = "start" if x < 60 else "end" if x > WIDTH - 60 else "middle"
    return (
        f'<g class="mark {kind}"><line x1="{x:.1f}" y1="{y - 14}" x2="{x:.1f}" y2="{y + 14}"/>'
        f'<text x="{x:.1f}" y="{text_y}" text-anchor="{anchor}">{escape(label)}</text>'
        f"<title>{escape(label)} {moment:%Y-%m-%d %H:%M %Z}</title></g>"
    )


def bar_chart(title: str, bars: list[Bar]) -> Markup:
    """Horizontal bars of shares (0-100 %), each labelled with its value as text too."""
    row, label_width, bar_width = 26, 200, 300
    height = row * max(len(bars), 1) + 8
    parts = []
    for index, bar in enumerate(bars):
        y = index * row + 4
        length = 0.0 if bar.value is None else max(0.0, min(1.0, bar.value)) * bar_width
        parts.append(
            f'<text x="0" y="{y + 15}" class="label">{escape(bar.label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{bar_width}" height="18" class="track"/>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="18" class="bar"/>'
            f'<text x="{label_width + bar_width + 8}" y="{y + 15}">{escape(bar.text)}</text>'
        )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {label_width + bar_width + 90} {height}" role="img" '
        f'aria-label="{escape(title)}">{"".join(parts)}</svg>'
    )
