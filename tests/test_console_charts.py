"""The console's SVG drawings, without a server: what each mark of a clock says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api import models
from api.console.charts import Bar, bar_chart, clock_line
from api.console.i18n import words

T0 = datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
EN = words("en")


def clock(**changes: object) -> models.Clock:
    values: dict[str, object] = {
        "name": "decision", "title": "15日内答复 <decide>", "status": "running",
        "measure": "business", "target": "15wd", "started_at": T0,
        "due_at": T0 + timedelta(days=20), "paused_at": None, "paused_seconds": 0.0,
        "stopped_at": None, "breached_at": None, "met": None, "problem": None, "explain": [],
    }  # fmt: skip
    values.update(changes)
    return models.Clock.model_validate(values)


def test_a_provisional_due_time_a_warning_and_a_breach_are_each_marked() -> None:
    drawn = clock_line(
        clock(provisional="calendar 'cn-workdays' covers … to 2026-12-31",
              breached_at=T0 + timedelta(days=20)),
        T0 + timedelta(days=21), EN, [T0 + timedelta(days=17)],
    )  # fmt: skip
    assert 'class="mark due provisional"' in drawn and "Due (Provisional)" in drawn
    assert 'class="mark warning"' in drawn and 'class="mark breach"' in drawn
    assert 'class="mark now"' in drawn
    assert "&lt;decide&gt;" in drawn and "<decide>" not in drawn  # titles are escaped


def test_a_stopped_clock_has_no_now_and_a_clock_not_started_draws_nothing() -> None:
    stopped = clock_line(
        clock(status="stopped", stopped_at=T0 + timedelta(days=3)), T0 + timedelta(days=5), EN
    )
    assert 'class="mark stop"' in stopped and 'class="mark now"' not in stopped
    assert clock_line(clock(started_at=None), T0, EN) == ""


def test_bars_say_their_value_in_words_too() -> None:
    chart = bar_chart("compliance", [Bar("complaint · response", 0.75, "75% (3/4)")])
    assert "75% (3/4)" in chart and 'aria-label="compliance"' in chart
