"""The compiler: a definition becomes a transitions machine config and a hashed spec."""

from __future__ import annotations

from pathlib import Path

from transitions import Machine

from process.compiler import MachineTransition, compile_definition
from process.loader import load_definition, load_definition_text

DEFINITIONS = Path(__file__).parent.parent / "definitions"

SMALL = """\
process: small
version: 3
stages:
  open:
    initial: true
    on:
      work: {to: busy, roles: [any]}
      drop: {to: done, roles: [any]}
  busy:
    on: {finish: {to: done, roles: [any]}}
    timeout: {after: 1h, to: done}
  done:
    final: true
deadlines:
  answer:
    stop: {leave: open}
    within: 1h
    on_breach: [{to: busy}]
opened_by: [any]
"""


def test_events_timeouts_and_breach_moves_become_triggers() -> None:
    spec = compile_definition(load_definition_text(SMALL, "small.yaml"))
    machine = spec.machine
    assert (spec.process, spec.version) == ("small", 3)
    assert machine.states == ["open", "busy", "done"]
    assert (machine.initial, machine.final) == ("open", ["done"])
    assert machine.transitions == [
        MachineTransition(trigger="work", source="open", dest="busy"),
        MachineTransition(trigger="drop", source="open", dest="done"),
        MachineTransition(trigger="finish", source="busy", dest="done"),
        MachineTransition(trigger="timeout", source="busy", dest="done"),
        # A breach moves the case from every open stage but the target itself.
        MachineTransition(trigger="breach:answer", source="open", dest="busy"),
    ]


def test_the_config_drives_a_real_transitions_machine() -> None:
    spec = compile_definition(load_definition_text(SMALL, "small.yaml"))

    class Case:
        state: str

    case = Case()
    machine = Machine(model=case, **spec.machine.as_machine_kwargs())
    assert sorted(machine.get_triggers("open")) == ["breach:answer", "drop", "work"]
    assert machine.get_triggers("done") == []
    case.trigger("work")  # type: ignore[attr-defined]
    assert case.state == "busy"


def test_the_hash_follows_behaviour_not_formatting() -> None:
    first = compile_definition(load_definition_text(SMALL, "small.yaml"))
    reformatted = SMALL.replace(
        "work: {to: busy, roles: [any]}", "work:\n        to: busy\n        roles: [any]"
    )
    assert compile_definition(load_definition_text(reformatted, "small.yaml")) == first
    changed = compile_definition(
        load_definition_text(SMALL.replace("within: 1h", "within: 2h"), "small.yaml")
    )
    assert changed.content_hash != first.content_hash
    assert first.label == f"small v3 ({first.content_hash[:12]})"


def test_the_shipped_complaint_compiles() -> None:
    spec = compile_definition(load_definition(DEFINITIONS / "complaint.yaml"))
    triggers = {(t.source, t.trigger): t.dest for t in spec.machine.transitions}
    assert triggers[("intake", "accept")] == "triage"
    assert triggers[("waiting_customer", "timeout")] == "closure"
    assert triggers[("handling", "breach:plan")] == "escalation"
    assert ("escalation", "breach:plan") not in triggers
