"""The syntax tree of kesu's expression language, the names it knows and what an event brings.

Shared by the parser (``expressions``), the evaluator (``expression_eval``) and the type check
run when a definition loads (``expression_types``). The grammar is documented in
``expressions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

__all__ = ["BUILTINS", "EVENT_DATA", "FUNCTIONS", "Context"]

EVENT_DATA = "event.data."
"""The prefix of an event's inputs: ``event.data.csat`` is the value this event brings."""

BUILTINS = {
    "now": "datetime",
    "today": "date",
    "actor": "text",
    "role": "text",
    "roles": "list",
}
"""Names that are not case fields, with their types: the time of the step (given to the
engine, never read from a clock), the day it falls on in the process's time zone, who acts,
the role they act in and every role they hold."""

FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "startswith": (("text", "text"), "boolean"),
    "endswith": (("text", "text"), "boolean"),
    "contains": (("text|list", "any"), "boolean"),
    "len": (("text|list",), "integer"),
    "lower": (("text",), "text"),
    "upper": (("text",), "text"),
}
"""The only functions an expression may call: argument types and result type."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a step knows besides the case's fields. Missing parts read as null."""

    now: datetime | None = None
    zone: tzinfo = UTC
    """Where ``today`` is counted, and what a date-time written without an offset means."""
    actor: str | None = None
    role: str | None = None
    roles: tuple[str, ...] = ()
    event_data: Mapping[str, Any] = field(default_factory=dict)

    def builtin(self, name: str) -> Any:
        if name == "now":
            return self.now
        if name == "today":
            return None if self.now is None else self.now.astimezone(self.zone).date()
        if name == "actor":
            return self.actor
        if name == "role":
            return self.role
        return list(self.roles)


EMPTY_CONTEXT = Context()


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    column: int = 0


@dataclass(frozen=True, slots=True)
class ListNode:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # 'not' or '-'
    operand: Node
    column: int = 0


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]
    column: int = 0


# A run of one precedence level ('a or b or c', 'a - b + c', 'a < b <= c') is one node whose
# evaluation loops: nested binary nodes would make evaluation recurse once per operand.
@dataclass(frozen=True, slots=True)
class Run:
    ops: tuple[str, ...]
    operands: tuple[Node, ...]
    columns: tuple[int, ...] = ()
    """Where each operator is written, for the type check's messages."""


Node = Literal | Name | ListNode | Unary | Call | Run
