"""Warnings: definitions that load, but whose clocks would not do what the designer meant."""

from __future__ import annotations

from pathlib import Path

from process.loader import load_catalog, load_definition_text
from tests.test_loader import BASE

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"

# A clock that starts on entering 'triage' and stops on leaving it; 'again' sends the case back.
REENTERED = (
    BASE.replace(
        '      close: {to: closed, roles: [any], when: "amount > 100"}\n',
        '      close: {to: closed, roles: [any], when: "amount > 100"}\n'
        "      park: {to: parked, roles: [agent]}\n",
    )
    .replace(
        "  closed:\n    final: true\n",
        "  parked:\n    on: {again: {to: triage, roles: [agent]}}\n  closed:\n    final: true\n",
    )
    .replace(
        "  response: {stop: {leave: intake}, within: 1h}\n",
        "  response: {stop: {leave: intake}, within: 1h}\n"
        "  triaging: {start: {enter: triage}, stop: {leave: triage}, within: 4h}\n",
    )
)


def warnings_of(text: str) -> list[str]:
    found: list[str] = []
    load_definition_text(text, "demo.yaml", warnings=found)
    return found


def test_a_clock_that_starts_on_a_stage_entered_again_warns() -> None:
    assert warnings_of(REENTERED) == [
        "demo.yaml:23: deadlines.triaging: after deadline 'triaging' has stopped, "
        "'again' (to 'triage') brings the case back to where it runs; with no 'restart' it "
        "stays stopped there: add e.g. restart: [{event: again}]"
    ]


def test_a_restart_answers_the_warning() -> None:
    fixed = REENTERED.replace("within: 4h}", "within: 4h, restart: {event: again}}")
    assert warnings_of(fixed) == []


def test_a_clock_stopped_once_for_good_does_not_warn() -> None:
    assert warnings_of(BASE) == []


def test_warnings_do_not_stop_the_shipped_definitions() -> None:
    catalog = load_catalog(DEFINITIONS)
    assert set(catalog.definitions) == {"bank_complaint", "complaint", "service_request"}
    # Version 1 of the complaint process sent a dissatisfied or reopened case back to handling
    # with its plan and resolution clocks stopped for good; the shipped ones restart them.
    assert catalog.warnings == []


def test_the_complaint_process_without_its_restarts_warns() -> None:
    text = (DEFINITIONS / "complaint.yaml").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    without = "".join(line for line in lines if not line.lstrip().startswith("restart:"))
    found = warnings_of(without)
    closed_again = ("deadlines.callback", "deadlines.rectification")
    handled_again = [line for line in found if not any(name in line for name in closed_again)]
    assert len(handled_again) == 2, found
    assert all("'dissatisfied' (to 'handling')" in line for line in handled_again), found
    # The call-back is due again when the case is closed again.
    assert any("deadlines.callback" in line and "'close' (to 'closed')" in line for line in found)
    # So is a new finding's rectification.
    assert any("deadlines.rectification" in line and "'close'" in line for line in found)
