"""A definition's rules as the worker runs them: built once per definition, shared by its cases.

Parsing guards and decision tables and building the ``transitions`` machine cost more than
applying an event, and every case of one definition would build the same objects. They are
immutable and keyed by the spec's content hash (equal hashes mean equal behaviour), so one
copy serves every case; that keeps workflow code deterministic and open cases small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from transitions import Machine

from .actions import ActionRunner
from .admission import Requirement
from .compiler import CompiledSpec
from .expressions import Expression, parse


@dataclass(frozen=True)
class Rules:
    machine: Machine
    """Model-less: it answers which events are legal in a stage and where they lead."""
    guards: Mapping[tuple[str, str], Expression]
    actions: ActionRunner
    requirements: Mapping[tuple[str, str], tuple[Requirement, ...]]
    """The ``requires_when`` of each (stage, event) that has one, parsed."""

    def legal(self, stage: str) -> list[str]:
        return list(self.machine.get_triggers(stage))

    def target(self, trigger: str, source: str) -> str:
        transitions = self.machine.get_transitions(trigger=trigger, source=source)
        if not transitions:
            raise ValueError(f"no transition {trigger!r} from stage {source!r}")
        return str(transitions[0].dest)


_BUILT: dict[str, Rules] = {}


def rules_for(spec: CompiledSpec) -> Rules:
    """The shared rules of ``spec`` (a race between two threads only builds them twice)."""
    rules = _BUILT.get(spec.content_hash)
    if rules is None:
        rules = _build(spec)
        _BUILT[spec.content_hash] = rules
    return rules


def forget_rules(spec: CompiledSpec) -> None:
    """Drop the shared rules of ``spec``: for callers that compile thousands of throwaway
    definitions (the fuzz test), where keeping every machine would fill the memory."""
    _BUILT.pop(spec.content_hash, None)


def _build(spec: CompiledSpec) -> Rules:
    definition = spec.definition
    guards = {
        (stage_name, event): parse(transition.when)
        for stage_name, stage in definition.stages.items()
        for event, transition in stage.on.items()
        if transition.when is not None
    }
    requirements = {
        (stage_name, event): tuple(
            (parse(needed.when), tuple(needed.fields)) for needed in transition.requires_when
        )
        for stage_name, stage in definition.stages.items()
        for event, transition in stage.on.items()
        if transition.requires_when
    }
    machine = Machine(model=None, **spec.machine.as_machine_kwargs())
    return Rules(
        machine=machine, guards=guards, actions=ActionRunner(definition),
        requirements=requirements,
    )  # fmt: skip
