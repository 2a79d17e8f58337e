"""Scenarios on virtual time: the shipped regression suite, failures that say where, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

import starter
from process.compiler import compile_definition
from process.loader import load_catalog, load_definition_text
from runtime import load_specs
from service.scenarios import ScenarioError, load_scenario, run_scenario, run_suite, verdict

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"
SCENARIOS = sorted((DEFINITIONS / "tests").glob("*.yaml"))
SPECS = load_specs(DEFINITIONS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.stem)
def test_every_shipped_scenario_passes(path: Path) -> None:
    loaded = load_scenario(path, SPECS)
    run = run_scenario(loaded)
    assert run.ok, verdict(loaded, run)


def test_every_shipped_process_has_scenarios() -> None:
    covered = {load_scenario(path, SPECS).scenario.process for path in SCENARIOS}
    assert covered == set(SPECS)


def test_the_suite_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert starter.main(["test", str(DEFINITIONS / "tests")]) == 0
    out = capsys.readouterr().out
    assert f"{len(SCENARIOS)} passed, 0 failed" in out


def test_simulate_prints_the_case_like_show(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = DEFINITIONS / "tests" / "complaint_breach.yaml"
    assert starter.main(["simulate", "complaint", "--scenario", str(scenario)]) == 0
    out = capsys.readouterr().out
    assert "deadlines:" in out and "timeline:" in out
    assert "deadline.warning:response" in out and "deadline.breached:plan" in out
    assert "response started: 24h of calendar time, due 2026-01-06 10:00 CST" in out
    assert "manager: deadline_breached" in out
    assert out.rstrip().splitlines()[-1].startswith("ok    complaint_breach.yaml: 9 steps, 17d 3h")


def test_dissatisfied_proves_the_complaint_fix(tmp_path: Path) -> None:
    """Without the restart triggers the shipped scenario fails where the clocks stay stopped."""
    fixed = (DEFINITIONS / "complaint.yaml").read_text(encoding="utf-8")
    restart = (
        "    restart: [{event: dissatisfied}, {event: reopen}, {event: callback_dissatisfied}]\n"
    )
    assert fixed.count(restart) == 2
    catalog = load_catalog(DEFINITIONS)
    old = load_definition_text(fixed.replace(restart, ""), "complaint.yaml", catalog.calendars)
    specs = {**SPECS, "complaint": compile_definition(old, catalog.calendars)}
    loaded = load_scenario(DEFINITIONS / "tests" / "complaint_dissatisfied.yaml", specs)
    run = run_scenario(loaded)
    assert not run.ok
    report = verdict(loaded, run)
    assert "step 4 (dissatisfied): expected clocks.plan running, got stopped (met)" in report
    assert "step 5: expected stage 'escalation', got 'handling'" in report


SCENARIO = """\
process: service_request
fields: {customer_id: C-1}
steps:
  - at: +30m
    expect:
      stage: intake
      timeline: ["deadline.warning:answer"]
  - at: +1h
    event: answer
    roles: [agent]
    data: {assignee: 陈静}
    expect:
      stage: done
      due: {handle: 2026-01-06 09:00}
      breached: []
      messages: [{to: customer, template: result}]
"""


def _write(tmp_path: Path, text: str, name: str = "story.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_failed_expectation_says_which_step_what_was_expected_and_what_happened(
    tmp_path: Path,
) -> None:
    loaded = load_scenario(_write(tmp_path, SCENARIO), SPECS)
    run = run_scenario(loaded)
    assert not run.ok
    assert verdict(loaded, run).splitlines()[1:] == [
        "  story.yaml:13: step 2 (answer): expected stage 'done', got 'handling'",
        "  story.yaml:15: step 2 (answer): expected breached [], got ['answer']",
        "  story.yaml:16: step 2 (answer): expected messages ['customer: result'], "
        "got ['supervisor: deadline_breached']",
    ]


def test_an_unexpected_refusal_ends_the_run(tmp_path: Path) -> None:
    text = SCENARIO.replace("    data: {assignee: 陈静}\n", "")
    loaded = load_scenario(_write(tmp_path, text), SPECS)
    run = run_scenario(loaded)
    assert run.stopped is not None and "requires input 'assignee'" in run.stopped
    assert "story.yaml:9: step 2 (answer): refused: event 'answer' in stage 'intake'" in (
        verdict(loaded, run)
    )


def test_a_broken_scenario_gets_every_problem_with_its_line(tmp_path: Path) -> None:
    text = SCENARIO.replace("event: answer", "event: anwser").replace(
        "roles: [agent]", "roles: [agnet]"
    )
    text = text.replace("stage: done", "stage: doen").replace("customer_id", "customer")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, text), SPECS)
    assert caught.value.problems == [
        "story.yaml:2: fields.customer: unknown field 'customer'; did you mean 'customer_id'?",
        "story.yaml:9: steps.1.event: unknown event 'anwser'; did you mean 'answer'?",
        "story.yaml:10: steps.1.roles.0: unknown role 'agnet'; did you mean 'agent'?",
        "story.yaml:13: steps.1.expect.stage: unknown stage 'doen'; did you mean 'done'?",
    ]
    assert str(caught.value).startswith("4 problems in the scenario")


def test_shape_problems_come_first_like_a_definitions(tmp_path: Path) -> None:
    text = SCENARIO.replace("at: +1h", "at: +1x").replace("breached: []", "breached: nobody")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, text), SPECS)
    assert [problem.split(":", 2)[1] for problem in caught.value.problems] == ["8", "15"]
    assert "bad duration '1x'" in caught.value.problems[0]


def test_time_may_not_go_backwards(tmp_path: Path) -> None:
    text = SCENARIO.replace("at: +1h", 'at: "2026-01-05 09:10"')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, text), SPECS)
    assert caught.value.problems == [
        "story.yaml:8: steps.1.at: goes back in time, before 2026-01-05 09:30 CST"
    ]


def test_simulate_refuses_a_scenario_of_another_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, SCENARIO)
    assert starter.main(["simulate", "complaint", "--scenario", str(path)]) == 1
    err = capsys.readouterr().err
    assert "story.yaml:1: process: the scenario is for 'service_request', not 'complaint'" in err


def test_the_suite_reports_failures_and_unreadable_files(tmp_path: Path) -> None:
    _write(tmp_path, SCENARIO, "a.yaml")
    _write(tmp_path, "process: [", "b.yaml")
    text, ok = run_suite(tmp_path, SPECS)
    assert not ok
    assert "FAIL  a.yaml" in text and "FAIL  b.yaml: cannot be read" in text
    assert text.endswith("0 passed, 2 failed")
