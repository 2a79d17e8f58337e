"""The name each case timer gets in Temporal's Web UI: which deadline, which rung, or which
stage's timeout it waits for."""

from __future__ import annotations

from datetime import timedelta

from process.compiler import CompiledSpec
from tests.test_engine import AGENT, HANDLER, SUPERVISOR, T0, complaint, opened, send

__all__ = ["complaint"]  # the fixture, shared with the engine tests


def test_timers_say_which_deadline_they_wait_for(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    assert engine.next_alarm_summary() is None  # nothing running in intake
    send(engine, "accept", AGENT, T0)
    # The response clock (24h, warned at 75%) is the nearest: its first warning.
    assert engine.next_alarm_summary() == (
        "deadline response (24小时内响应 Respond within 24 hours of acceptance): warning 1"
    )
    engine.fire_due(T0 + timedelta(hours=18))
    assert engine.next_alarm_summary() == (
        "deadline response (24小时内响应 Respond within 24 hours of acceptance): breach"
    )


def test_a_stage_timeout_names_its_stage(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    send(engine, "accept", AGENT, T0)
    send(engine, "assign", SUPERVISOR, T0, assignee="chen")
    send(engine, "submit_plan", HANDLER, T0, plan="p")
    send(engine, "propose", HANDLER, T0, resolution="r")
    assert engine.next_alarm_summary() == "stage feedback: timeout after 3d"


def test_a_closed_case_has_no_timer(complaint: CompiledSpec) -> None:
    engine = opened(complaint)
    send(engine, "withdraw", AGENT, T0)
    assert engine.next_alarm_summary() is None
