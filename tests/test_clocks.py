"""Deadline clocks in calendar time: pure arithmetic, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from process import clocks
from process.clocks import ClockState, ClockStatus, format_duration
from process.measures import CalendarMeasure
from process.spec import Deadline

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CAL = CalendarMeasure()


def deadline(**extra: object) -> Deadline:
    return Deadline.model_validate({"stop": {"leave": "intake"}, "within": "4h", **extra})


def test_a_running_clock_is_due_after_its_target() -> None:
    clock = ClockState(name="answer")
    assert (
        clocks.start(clock, T0, "4h", CAL)
        == "answer started: 4h of calendar time, due 2026-11-23 13:00 UTC"
    )
    assert clock.due_at == T0 + 4 * HOUR
    assert clocks.start(clock, T0 + HOUR, "1h", CAL) is None  # started once; restart is explicit
    note = clocks.restart(clock, T0 + HOUR, "1h", CAL, "new facts event")
    assert note == (
        "answer restarted (new facts event): due 2026-11-23 11:00 UTC"
        " (was due 2026-11-23 13:00 UTC)"
    )
    assert clock.explain == [
        "answer started: 4h of calendar time, due 2026-11-23 13:00 UTC",
        note,
    ]


def test_pauses_push_the_due_time_and_are_kept() -> None:
    clock = ClockState(name="resolution")
    clocks.start(clock, T0, "4h", CAL)
    clocks.pause(clock, T0 + HOUR)
    assert (clock.status, clock.due_at) == (ClockStatus.PAUSED, None)
    assert clocks.pause(clock, T0 + 2 * HOUR) is None
    note = clocks.resume(clock, T0 + 3 * HOUR, CAL)
    assert note == (
        "resolution resumed after 2h of calendar time paused (2h in all), due 2026-11-23 15:00 UTC"
    )
    clocks.pause(clock, T0 + 4 * HOUR)
    clocks.resume(clock, T0 + 5 * HOUR, CAL)
    assert clock.paused_for == 3 * HOUR
    assert clock.due_at == T0 + 7 * HOUR


def test_retargeting_during_a_pause_keeps_the_paused_time() -> None:
    clock = ClockState(name="answer")
    clocks.start(clock, T0, "4h", CAL)
    clocks.pause(clock, T0 + HOUR)
    assert clocks.retarget(clock, "1h", CAL, "urgency=urgent") == (
        "answer target 4h → 1h (urgency=urgent), paused"
    )
    clocks.resume(clock, T0 + 2 * HOUR, CAL)
    assert clock.due_at == T0 + 2 * HOUR  # 1 h target + 1 h paused
    assert clocks.retarget(clock, "1h", CAL, "same") is None  # same target: nothing to say
    note = clocks.retarget(clock, "2h", CAL, "urgency=normal")
    assert note == (
        "answer target 1h → 2h (urgency=normal): due 2026-11-23 11:00 UTC → 2026-11-23 12:00 UTC"
    )


def test_stopping_while_paused_counts_the_pause_and_judges_the_clock() -> None:
    clock = ClockState(name="plan")
    clocks.start(clock, T0, "1h", CAL)
    clocks.pause(clock, T0 + timedelta(minutes=30))
    assert clock.met is None
    assert clocks.stop(clock, T0 + 3 * HOUR, CAL) == "plan stopped in time"
    assert clock.paused_for == timedelta(hours=2, minutes=30)
    assert clock.met is True
    assert clocks.stop(clock, T0 + 4 * HOUR, CAL) is None


def test_a_breached_clock_stops_late() -> None:
    clock = ClockState(name="plan")
    clocks.start(clock, T0, "1h", CAL)
    clock.breached_at = T0 + HOUR
    assert clocks.stop(clock, T0 + 2 * HOUR, CAL) == "plan stopped late"
    assert clock.met is False


@pytest.mark.parametrize(
    ("warn", "expected"),
    [
        (["50%"], [T0 + 2 * HOUR]),
        (["75%", "15m"], [T0 + 3 * HOUR, T0 + 4 * HOUR - timedelta(minutes=15)]),
        (["1h"], [T0 + 3 * HOUR]),
    ],
)
def test_warnings_come_at_shares_or_offsets(warn: list[str], expected: list[datetime]) -> None:
    clock = ClockState(name="answer")
    clocks.start(clock, T0, "4h", CAL)
    rule = deadline(warn=warn)
    assert [when for _, when in clocks.warning_times(clock, rule, CAL)] == expected
    assert clocks.next_alarm(clock, rule, CAL) == min(expected)
    clock.warnings_sent.append(0)
    assert len(clocks.warning_times(clock, rule, CAL)) == len(expected) - 1


def test_a_paused_or_breached_clock_raises_no_alarm() -> None:
    clock = ClockState(name="answer")
    clocks.start(clock, T0, "4h", CAL)
    clocks.pause(clock, T0)
    assert clocks.next_alarm(clock, deadline(warn=["50%"]), CAL) is None
    clocks.resume(clock, T0, CAL)
    clock.breached_at = T0 + 4 * HOUR
    assert clocks.next_alarm(clock, deadline(), CAL) is None


def test_escalation_rungs_follow_a_breach_while_the_clock_runs() -> None:
    rule = deadline(
        escalate=[
            {"after": "2h", "actions": [{"notify": "supervisor", "template": "t"}]},
            {"after": "1d", "actions": [{"notify": "manager", "template": "t"}]},
        ]
    )
    clock = ClockState(name="answer")
    clocks.start(clock, T0, "4h", CAL)
    assert clocks.escalation_times(clock, rule, CAL) == []
    clock.breached_at = T0 + 4 * HOUR
    assert clocks.escalation_times(clock, rule, CAL) == [
        (0, T0 + 6 * HOUR),
        (1, T0 + 28 * HOUR),
    ]
    assert clocks.next_alarm(clock, rule, CAL) == T0 + 6 * HOUR
    clock.escalations_sent.append(0)
    assert clocks.next_alarm(clock, rule, CAL) == T0 + 28 * HOUR
    clocks.stop(clock, T0 + 5 * HOUR, CAL)
    assert clocks.next_alarm(clock, rule, CAL) is None


def test_targets_by_field_value() -> None:
    rule = Deadline.model_validate(
        {"stop": {"leave": "x"}, "by": "urgency", "within": {"urgent": "15m", "normal": "1h"}}
    )
    assert clocks.target_for(rule, {"urgency": "urgent"}) == "15m"
    assert clocks.target_for(rule, {"urgency": "normal"}) == "1h"


@pytest.mark.parametrize(
    ("span", "text"),
    [(timedelta(0), "0s"), (timedelta(minutes=15), "15m"), (timedelta(days=1, hours=2), "1d 2h")],
)
def test_durations_read_like_the_dsl(span: timedelta, text: str) -> None:
    assert format_duration(span) == text
