"""Validated definition -> compiled spec: the definition plus its state machine, version and hash.

Pure: no files, no clocks. The compiled spec is what a case workflow receives as input, so a
running case keeps the definition it started with however the YAML changes afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .calendars import CalendarSpec
from .events import TIMEOUT_EVENT
from .spec import ProcessDefinition
from .timeouts import timeout_calendars

BREACH_EVENT_PREFIX = "breach:"


class MachineTransition(BaseModel):
    model_config = ConfigDict(frozen=True)

    trigger: str
    source: str
    dest: str


class MachineConfig(BaseModel):
    """A ``transitions.Machine`` configuration, as plain data."""

    model_config = ConfigDict(frozen=True)

    states: list[str]
    initial: str
    final: list[str]
    transitions: list[MachineTransition]

    def as_machine_kwargs(self) -> dict[str, Any]:
        return {
            "states": self.states,
            "initial": self.initial,
            "transitions": [transition.model_dump() for transition in self.transitions],
            "auto_transitions": False,
            "ignore_invalid_triggers": False,
        }


class CompiledSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    process: str
    version: int
    content_hash: str
    """sha256 of the validated definition: equal hashes mean equal behaviour."""
    definition: ProcessDefinition
    machine: MachineConfig
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    """The business calendars the definition's clocks count in, as they were when compiled."""
    declared_inputs: bool = False
    """Events accept only the fields they declare. False in specs compiled before that rule:
    a case running on one keeps the rules it started with (its history replays)."""

    @property
    def time_zone(self) -> str:
        """Where the process's people live: its calendar's zone, UTC without one."""
        if self.definition.timezone is not None:
            return self.definition.timezone
        home = self.calendars.get(self.definition.calendar or "")
        return home.timezone if home is not None else "UTC"

    @property
    def label(self) -> str:
        return f"{self.process} v{self.version} ({self.content_hash[:12]})"


def breach_event(deadline: str, rung: int | None = None) -> str:
    """The machine trigger of a breach's move, or of an escalation rung's move."""
    suffix = "" if rung is None else f":{rung + 1}"
    return f"{BREACH_EVENT_PREFIX}{deadline}{suffix}"


def compile_machine(definition: ProcessDefinition) -> MachineConfig:
    """Designer events, stage timeouts and deadline moves all become machine triggers."""
    transitions: list[MachineTransition] = []
    for name, stage in definition.stages.items():
        for event, transition in stage.on.items():
            transitions.append(MachineTransition(trigger=event, source=name, dest=transition.to))
        if stage.timeout is not None:
            transitions.append(
                MachineTransition(trigger=TIMEOUT_EVENT, source=name, dest=stage.timeout.to)
            )
    open_stages = [name for name, stage in definition.stages.items() if not stage.final]
    for deadline_name, deadline in definition.deadlines.items():
        moves = [(breach_event(deadline_name), deadline.on_breach)]
        moves += [
            (breach_event(deadline_name, index), rung.actions)
            for index, rung in enumerate(deadline.escalate)
        ]
        for trigger, actions in moves:
            for dest in (action.to for action in actions if action.to is not None):
                transitions.extend(
                    MachineTransition(trigger=trigger, source=source, dest=dest)
                    for source in open_stages
                    if source != dest
                )
    return MachineConfig(
        states=list(definition.stages),
        initial=definition.initial_stage,
        final=[name for name, stage in definition.stages.items() if stage.final],
        transitions=transitions,
    )


def content_hash(
    definition: ProcessDefinition, calendars: Mapping[str, CalendarSpec] | None = None
) -> str:
    """Calendars count: a new holiday changes due times, so it changes the hash."""
    digest = hashlib.sha256(definition.model_dump_json().encode("utf-8"))
    for name, calendar in sorted((calendars or {}).items()):
        digest.update(name.encode("utf-8"))
        digest.update(calendar.model_dump_json().encode("utf-8"))
    return digest.hexdigest()


def used_calendars(definition: ProcessDefinition) -> set[str]:
    """The calendars business and legal clocks, and timeouts in working days, count on."""
    return {
        deadline.calendar or definition.calendar or ""
        for deadline in definition.deadlines.values()
        if deadline.clock != "calendar"
    } | timeout_calendars(definition)


def compile_definition(
    definition: ProcessDefinition, calendars: Mapping[str, CalendarSpec] | None = None
) -> CompiledSpec:
    """``calendars``: every calendar the loader knows; the spec keeps those it uses."""
    known = calendars or {}
    used = {name: known[name] for name in sorted(used_calendars(definition))}
    return CompiledSpec(
        process=definition.process,
        version=definition.version,
        content_hash=content_hash(definition, used),
        definition=definition,
        machine=compile_machine(definition),
        calendars=used,
        declared_inputs=True,
    )
