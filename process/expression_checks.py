"""The load-time checks of a definition's expressions: guards, decision tables, ``set``.

Each problem is a ``(path, message)`` pair, as in ``checks``; the loader adds file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .computed import expression_source
from .expression_nodes import BUILTINS
from .expression_types import Scope, assignable, field_type, type_of
from .expressions import ExpressionError, parse
from .fields import value_problem
from .problems import unknown_name
from .spec import ProcessDefinition

__all__ = ["check_field_names_free", "check_guard", "check_values"]

Path = tuple[str | int, ...]
Found = list[tuple[Path, str]]


def check_field_names_free(definition: ProcessDefinition) -> Found:
    """A field named like a built-in name could never be read by an expression."""
    return [
        (("fields", name), f"{name!r} is a built-in name of expressions; rename the field")
        for name in definition.fields
        if name in BUILTINS
    ]


def check_guard(definition: ProcessDefinition, source: str, path: Path, scope: Scope) -> Found:
    try:
        expression = parse(source)
    except ExpressionError as error:
        return [(path, f"condition does not parse: {error}")]
    found = _unknown_fields(definition, sorted(expression.names), path)
    _, problems = type_of(expression, scope)
    found.extend((path, f"condition {problem}") for problem in problems)
    return found


def check_values(
    definition: ProcessDefinition, values: Mapping[str, Any], path: Path, scope: Scope
) -> Found:
    found: Found = []
    for name, value in values.items():
        here = (*path, name)
        spec = definition.fields.get(name)
        if spec is None:
            found.append((here, unknown_name("field", name, definition.fields)))
            continue
        source = expression_source(spec, value)
        if source is None:
            if (problem := value_problem(spec, value)) is not None:
                found.append((here, problem))
            continue
        try:
            expression = parse(source)
        except ExpressionError as error:
            found.append((here, f"expected {_literal(spec.type.value)}, or an expression: {error}"))
            continue
        found.extend(_unknown_fields(definition, sorted(expression.names), here))
        kind, problems = type_of(expression, scope)
        found.extend((here, f"expression {problem}") for problem in problems)
        target = field_type(spec)
        if not problems and not assignable(target, kind):
            message = f"expression gives {_article(kind)}; the field holds {_article(target)}"
            found.append((here, message))
    return found


def _unknown_fields(definition: ProcessDefinition, names: list[str], path: Path) -> Found:
    return [
        (path, unknown_name("field", name, definition.fields))
        for name in names
        if name not in definition.fields
    ]


def _literal(kind: str) -> str:
    return {"integer": "a whole number", "boolean": "true or false"}.get(kind, f"a {kind}")


def _article(kind: str) -> str:
    return kind if kind == "text" else f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
