"""A process as a graph for people: stages, the events between them, and where clocks change.

Built from the validated definition the engine runs, so the picture cannot disagree with the
behaviour. ``diagram_svg`` draws it; ``to_mermaid`` writes it as a Mermaid state diagram.
A case's ``Highlight`` marks its current stage and the moves it took.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .events import CASE_OPENED_TRIGGER as CASE_OPENED
from .spec import Action, ClockTrigger, Deadline, ProcessDefinition
from .state import CaseState

EdgeKind = Literal["event", "timeout", "breach"]
CLOCK_VERBS = ("start", "restart", "pause", "resume", "stop")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    label: str
    """The event name, ``timeout 7d`` or ``plan breached``."""
    roles: tuple[str, ...] = ()
    guard: str | None = None
    requires: tuple[str, ...] = ()
    clocks: tuple[str, ...] = ()
    """What the move does to deadline clocks, e.g. ``start response (24h)``."""

    def lines(self) -> list[str]:
        head = self.label + (f" · {', '.join(self.roles)}" if self.roles else "")
        lines = [head]
        if self.guard:
            lines.append(f"[{self.guard}]")
        if self.requires:
            lines.append(f"needs {', '.join(self.requires)}")
        return lines + list(self.clocks)


@dataclass(frozen=True)
class Node:
    name: str
    title: str | None
    initial: bool
    final: bool
    on_enter: tuple[str, ...]
    clocks: tuple[str, ...]
    """Clock changes on entering or leaving the stage, e.g. ``enter: pause resolution``."""

    def lines(self) -> list[str]:
        lines = [f"on enter: {item}" for item in self.on_enter]
        return lines + list(self.clocks)


@dataclass(frozen=True)
class Diagram:
    process: str
    version: int
    title: str | None
    nodes: list[Node]
    edges: list[Edge]
    deadlines: list[str]
    """One line per deadline: its target and how it counts."""
    decisions: dict[str, list[str]]
    """Decision tables, one line per rule: ``when → set``."""

    @property
    def heading(self) -> str:
        return f"{self.process} v{self.version}" + (f" — {self.title}" if self.title else "")


@dataclass(frozen=True)
class Highlight:
    """A case on the diagram: where it is and which moves it took."""

    current: str | None = None
    visited: frozenset[str] = frozenset()
    taken: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    closed: bool = False

    @classmethod
    def of_case(cls, state: CaseState) -> Highlight:
        moves = [(s.from_stage, s.to_stage) for s in state.steps if s.from_stage is not None]
        return cls(
            current=state.stage,
            visited=frozenset(s.to_stage for s in state.steps),
            taken=frozenset((source, target) for source, target in moves if source != target),
            closed=state.closed_at is not None,
        )


def _target(deadline: Deadline) -> str:
    within = deadline.within
    if isinstance(within, str):
        return within
    return "/".join(within.values()) + f" by {deadline.by}"


def _clock_changes(
    definition: ProcessDefinition, moment: Literal["enter", "leave", "event"], value: str
) -> list[str]:
    """``start response (24h)``, ``stop plan``...: what ``moment value`` does to the clocks."""
    changes: list[str] = []
    for verb in CLOCK_VERBS:
        names = []
        for name, deadline in definition.deadlines.items():
            triggers: list[ClockTrigger] = getattr(deadline, verb)
            if any(getattr(trigger, moment) == value for trigger in triggers):
                timed = verb in ("start", "restart")
                names.append(f"{name} ({_target(deadline)})" if timed else name)
        if names:
            changes.append(f"{verb} {', '.join(names)}")
    return changes


def _action_text(action: Action) -> str:
    if action.notify is not None:
        return f"notify {action.notify} ({action.template})"
    if action.decide is not None:
        return f"decide {action.decide}"
    if action.set is not None:
        return "set " + ", ".join(f"{key}={value}" for key, value in action.set.items())
    return f"to {action.to}"


def _node(definition: ProcessDefinition, name: str) -> Node:
    stage = definition.stages[name]
    clocks = []
    if stage.initial:
        clocks += [f"opened: {text}" for text in _clock_changes(definition, "event", CASE_OPENED)]
    clocks += [f"enter: {text}" for text in _clock_changes(definition, "enter", name)]
    if stage.pauses:
        clocks.append(f"pauses {', '.join(stage.pauses)} while here")
    clocks += [f"leave: {text}" for text in _clock_changes(definition, "leave", name)]
    return Node(
        name=name,
        title=stage.title,
        initial=stage.initial,
        final=stage.final,
        on_enter=tuple(_action_text(action) for action in stage.on_enter),
        clocks=tuple(clocks),
    )


def _edges(definition: ProcessDefinition) -> Iterable[Edge]:
    for name, stage in definition.stages.items():
        for event, transition in stage.on.items():
            done = [_action_text(a) for a in transition.actions if a.to is None]
            yield Edge(
                source=name,
                target=transition.to,
                kind="event",
                label=event + (f" {transition.title}" if transition.title else ""),
                roles=tuple(transition.roles),
                guard=transition.when,
                requires=tuple(transition.requires),
                clocks=tuple(_clock_changes(definition, "event", event) + done),
            )
        if stage.timeout is not None:
            yield Edge(name, stage.timeout.to, "timeout", f"timeout {stage.timeout.after}")
    for clock, deadline in definition.deadlines.items():
        moves: list[tuple[str, list[Action]]] = [(f"{clock} breached", deadline.on_breach)]
        moves += [(f"{clock} breached +{rung.after}", rung.actions) for rung in deadline.escalate]
        for label, actions in moves:
            for target in (action.to for action in actions if action.to is not None):
                # A breach moves the case from whatever open stage it is in; the picture draws
                # the move from where the clock starts, not from every stage.
                for source in _starts_in(definition, deadline):
                    if source != target and not definition.stages[source].final:
                        yield Edge(source, target, "breach", label)


def _starts_in(definition: ProcessDefinition, deadline: Deadline) -> list[str]:
    """The stages a case is in right after the clock starts."""
    found: list[str] = []
    for trigger in deadline.start:
        if trigger.enter is not None:
            found.append(trigger.enter)
        elif trigger.event == CASE_OPENED:
            found.append(definition.initial_stage)
        for name, stage in definition.stages.items():
            for event, transition in stage.on.items():
                if event == trigger.event or name == trigger.leave:
                    found.append(transition.to)
    return list(dict.fromkeys(found))


def build_diagram(definition: ProcessDefinition) -> Diagram:
    deadlines = []
    for name, deadline in definition.deadlines.items():
        calendar = deadline.calendar or definition.calendar
        counted = deadline.clock + (
            f" on {calendar}" if calendar and deadline.clock != "calendar" else ""
        )
        line = f"{name}: {_target(deadline)} of {counted} time"
        if deadline.warn:
            line += f", warn {', '.join(deadline.warn)} before"
        if deadline.escalate:
            line += f", escalate after {', '.join(rung.after for rung in deadline.escalate)}"
        deadlines.append(line + (f" — {deadline.title}" if deadline.title else ""))
    decisions = {
        table: [f"{rule.when} → {_set_text(rule.set)}" for rule in rules]
        for table, rules in definition.decisions.items()
    }
    return Diagram(
        process=definition.process,
        version=definition.version,
        title=definition.title,
        nodes=[_node(definition, name) for name in definition.stages],
        edges=list(_edges(definition)),
        deadlines=deadlines,
        decisions=decisions,
    )


def _set_text(values: dict[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in values.items())


def node_notes(diagram: Diagram, node: Node) -> list[str]:
    """What a stage's note says: its entry actions, clock changes, the decision tables it runs
    and, on the initial stage, every deadline's target."""
    notes = node.lines()
    for table, rules in diagram.decisions.items():
        if f"decide {table}" in node.on_enter:
            notes += [f"{table}: {rule}" for rule in rules]
    if node.initial:
        notes += [f"deadline {line}" for line in diagram.deadlines]
    return notes


# -- Mermaid ---------------------------------------------------------------------------------

_MERMAID_ESCAPES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", '"': "#quot;"}


def _mm(text: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(char, char) for char in text)


def to_mermaid(diagram: Diagram, highlight: Highlight | None = None) -> str:
    """A Mermaid ``stateDiagram-v2``: paste it into any Mermaid renderer or Markdown file."""
    lines = [
        "---",
        f"title: {_mm(diagram.heading)}",
        "---",
        "stateDiagram-v2",
        "    direction LR",
    ]
    for node in diagram.nodes:
        description = "<br>".join(_mm(text) for text in [node.name, node.title or ""] if text)
        lines.append(f'    state "{description}" as {node.name}')
    for node in diagram.nodes:
        if node.initial:
            lines.append(f"    [*] --> {node.name}")
        if node.final:
            lines.append(f"    {node.name} --> [*]")
    # Mermaid draws one transition per pair of states: moves between the same two share it.
    pairs: dict[tuple[str, str], list[str]] = {}
    for edge in diagram.edges:
        pairs.setdefault((edge.source, edge.target), []).extend(edge.lines())
    for (source, target), texts in pairs.items():
        label = "<br>".join(_mm(text) for text in texts)
        lines.append(f"    {source} --> {target}: {label}")
    for node in diagram.nodes:
        notes = node_notes(diagram, node)
        if notes:
            lines.append(f"    note right of {node.name}")
            lines.extend(f"        {_mm(note)}" for note in notes)
            lines.append("    end note")
    if highlight is not None:
        lines += _mermaid_highlight(diagram, highlight)
    return "\n".join(lines) + "\n"


def _mermaid_highlight(diagram: Diagram, highlight: Highlight) -> list[str]:
    lines = [
        "    classDef visited fill:#dbeafe,stroke:#1d4ed8",
        "    classDef current fill:#fde68a,stroke:#b45309,stroke-width:3px",
    ]
    names = {node.name for node in diagram.nodes}
    visited = sorted(highlight.visited & names - {highlight.current or ""})
    if visited:
        lines.append(f"    class {','.join(visited)} visited")
    if highlight.current in names:
        lines.append(f"    class {highlight.current} current")
    return lines
