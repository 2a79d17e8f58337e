"""The type check of an expression, run when a definition loads.

At run time a mistyped operation merely reads as null (see ``expressions``); here it is a
``check`` error, so that ``amount + name`` or ``csat == 'high'`` never reaches a case. Unknown
field names are reported by the definition checks; this module treats them as of any type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from .expression_nodes import (
    BUILTINS,
    EVENT_DATA,
    FUNCTIONS,
    Call,
    ListNode,
    Literal,
    Name,
    Node,
    Run,
    Unary,
)
from .expressions import Expression
from .spec import FieldSpec, FieldType

__all__ = ["Scope", "assignable", "field_type", "type_of"]

_FIELD_TYPES = {
    FieldType.STRING: "text",
    FieldType.TEXT: "text",
    FieldType.ENUM: "text",
    FieldType.NUMBER: "number",
    FieldType.INTEGER: "integer",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime",
}
_NUMERIC = {"integer", "number"}
_LOOSE = {"any", "null"}
_MOMENTS = {"date", "datetime"}
_ORDERED = {"text", "date", "datetime", "duration"}


def field_type(spec: FieldSpec) -> str:
    return _FIELD_TYPES[spec.type]


def _a(kind: str) -> str:
    if kind in ("text", "null"):
        return kind
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


class TypeProblem(Exception):
    def __init__(self, message: str, column: int) -> None:
        super().__init__(message, column)
        self.message, self.column = message, column


@dataclass(frozen=True)
class Scope:
    """What an expression may read where it is written."""

    fields: Mapping[str, FieldSpec]
    inputs: tuple[str, ...] | None = None
    """The event's declared inputs; None where no event acts (on_enter, timeouts, tables)."""
    builtins: frozenset[str] = field(default_factory=lambda: frozenset({"now", "today"}))

    @classmethod
    def of_event(cls, fields: Mapping[str, FieldSpec], inputs: list[str]) -> Scope:
        return cls(fields, tuple(inputs), frozenset(BUILTINS))


def type_of(expression: Expression, scope: Scope) -> tuple[str, list[str]]:
    """The expression's type and its type problems (``column N: ...``), all of them."""
    checker = _Checker(scope)
    kind = checker.visit(expression.root)
    return kind, checker.problems


def assignable(target: str, kind: str) -> bool:
    """Whether a value of ``kind`` may be stored in a field of type ``target``."""
    return kind in _LOOSE or kind == target or (target == "number" and kind == "integer")


class _Checker:
    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self.problems: list[str] = []

    def _problem(self, column: int, message: str) -> str:
        self.problems.append(f"column {column}: {message}")
        return "any"  # reported once: what depends on it is not reported again

    def visit(self, node: Node) -> str:
        match node:
            case Literal(value):
                return _literal_type(value)
            case Name(name, column):
                return self._name(name, column)
            case ListNode(items):
                for item in items:
                    self.visit(item)
                return "list"
            case Unary("not", operand):
                self.visit(operand)
                return "boolean"
            case Unary(_, operand, column):
                kind = self.visit(operand)
                if kind in _NUMERIC | _LOOSE | {"duration"}:
                    return kind
                return self._problem(column, f"'-' needs a number or a duration, not {_a(kind)}")
            case Call(function, args, column):
                return self._call(function, args, column)
            case Run(ops, operands, _) if ops[0] in ("or", "and"):
                for operand in operands:
                    self.visit(operand)
                return "boolean"
            case Run(ops, operands, columns):
                kinds = [self.visit(operand) for operand in operands]
                if ops[0] in ("+", "-", "*", "/", "%"):
                    return self._arithmetic(ops, kinds, columns)
                for index, op in enumerate(ops):
                    left, right = operands[index], operands[index + 1]
                    problem = _comparison_problem(op, kinds[index], kinds[index + 1])
                    problem = problem or self._enum_problem(op, left, right)
                    if problem is not None:
                        self._problem(columns[index], problem)
                return "boolean"
        return "any"  # pragma: no cover - every node kind is matched above

    def _enum_problem(self, op: str, left: Node, right: Node) -> str | None:
        """A value an enum field can never hold: ``severity == 'urgnt'`` is never true."""
        if op in ("in", "not in") and isinstance(left, Name) and isinstance(right, ListNode):
            name, literals = left.name, list(right.items)
        elif op in ("==", "!=") and isinstance(left, Name) and not isinstance(right, Name):
            name, literals = left.name, [right]
        elif op in ("==", "!=") and isinstance(right, Name) and not isinstance(left, Name):
            name, literals = right.name, [left]
        else:
            return None
        spec = self._scope.fields.get(name.removeprefix(EVENT_DATA))
        if spec is None or spec.type is not FieldType.ENUM or name in BUILTINS:
            return None
        allowed = spec.values or []
        for literal in literals:
            text = literal.value if isinstance(literal, Literal) else None
            if isinstance(text, str) and text not in allowed:
                return f"{text!r} is not one of {', '.join(allowed)} ({name})"
        return None

    def _name(self, name: str, column: int) -> str:
        scope = self._scope
        if name in BUILTINS:
            if name not in scope.builtins:
                known = " and ".join(sorted(scope.builtins))
                message = f"'{name}' is known only where an event acts (here: {known})"
                return self._problem(column, message)
            return BUILTINS[name]
        if name.startswith(EVENT_DATA):
            item = name.removeprefix(EVENT_DATA)
            if scope.inputs is None:
                return self._problem(column, f"'{name}': no event acts here")
            if item not in scope.inputs:
                accepted = ", ".join(scope.inputs) or "none"
                message = f"'{name}': {item!r} is not an input of this event (inputs: {accepted})"
                return self._problem(column, message)
        spec = scope.fields.get(name.removeprefix(EVENT_DATA))
        return "any" if spec is None else field_type(spec)

    def _call(self, function: str, args: tuple[Node, ...], column: int) -> str:
        wanted, result = FUNCTIONS[function]
        for arg, allowed in zip(args, wanted, strict=True):
            kind = self.visit(arg)
            if allowed != "any" and kind not in _LOOSE and kind not in allowed.split("|"):
                needs = " or a ".join(allowed.split("|"))
                self._problem(column, f"{function}() needs {needs}, not {_a(kind)}")
        return result

    def _arithmetic(self, ops: tuple[str, ...], kinds: list[str], columns: tuple[int, ...]) -> str:
        result = kinds[0]
        for op, right, column in zip(ops, kinds[1:], columns, strict=True):
            combined = _combine(op, result, right)
            if combined is None:
                message = f"'{op}' does not work on {_a(result)} and {_a(right)}"
                combined = self._problem(column, message)
            result = combined
        return result


def _literal_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, timedelta):
        return "duration"
    return "text" if isinstance(value, str) else "list"


def _combine(op: str, left: str, right: str) -> str | None:
    """The type of ``left op right``, or None when the operation means nothing."""
    if left in _LOOSE or right in _LOOSE:
        return "any"
    if left in _NUMERIC and right in _NUMERIC:
        return "integer" if left == right == "integer" and op != "/" else "number"
    if op == "+" and left == right == "text":
        return "text"
    if op not in ("+", "-"):
        return None
    if left == right == "duration":
        return "duration"
    if left in _MOMENTS and right == "duration":
        return left
    if op == "+" and left == "duration" and right in _MOMENTS:
        return right
    if op == "-" and left == right and left in _MOMENTS:
        return "duration"
    return None


def _comparison_problem(op: str, left: str, right: str) -> str | None:
    if left in _LOOSE or right in _LOOSE:
        return None
    if op in ("in", "not in"):
        if right == "list" or (right == "text" and left == "text"):
            return None
        return f"'{op}' looks into a list or into text, not {_a(left)} in {_a(right)}"
    same = left == right or (left in _NUMERIC and right in _NUMERIC)
    iso_text = {left, right} in ({"text", "date"}, {"text", "datetime"})
    if op in ("==", "!="):
        if same or iso_text:
            return None
        outcome = "never true" if op == "==" else "always true"
        return f"'{op}' compares {_a(left)} with {_a(right)}: {outcome}"
    if (same and (left in _NUMERIC or left in _ORDERED)) or iso_text:
        return None
    return f"'{op}' cannot order {_a(left)} and {_a(right)}"
