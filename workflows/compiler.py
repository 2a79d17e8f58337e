"""Validated definition -> compiled spec: the definition plus its state machine, version and hash.

Pure: no files, no clocks. The compiled spec is what a case workflow receives as input, so a
running case keeps the definition it started with however the YAML changes afterwards.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict

from .spec import ProcessDefinition

TIMEOUT_EVENT = "timeout"
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

    @property
    def label(self) -> str:
        return f"{self.process} v{self.version} ({self.content_hash[:12]})"


def breach_event(deadline: str) -> str:
    return f"{BREACH_EVENT_PREFIX}{deadline}"


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
        for action in deadline.on_breach:
            if action.to is None:
                continue
            for source in open_stages:
                if source != action.to:
                    transitions.append(
                        MachineTransition(
                            trigger=breach_event(deadline_name), source=source, dest=action.to
                        )
                    )
    return MachineConfig(
        states=list(definition.stages),
        initial=definition.initial_stage,
        final=[name for name, stage in definition.stages.items() if stage.final],
        transitions=transitions,
    )


def content_hash(definition: ProcessDefinition) -> str:
    canonical = definition.model_dump_json(exclude_defaults=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def compile_definition(definition: ProcessDefinition) -> CompiledSpec:
    return CompiledSpec(
        process=definition.process,
        version=definition.version,
        content_hash=content_hash(definition),
        definition=definition,
        machine=compile_machine(definition),
    )
