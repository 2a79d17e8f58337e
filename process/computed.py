"""Computed ``set`` values: which values are expressions, and how a result is stored.

A ``set`` value is taken as written when it fits its field. For a field that does not hold
text (integer, number, boolean, date, datetime), other text is an expression:
``reopen_count: reopen_count + 1``. For a text or enum field the expression is written after
``=``: ``handled_by: "= actor"``. The grammar is in ``expressions``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from .fields import value_problem
from .spec import FieldSpec, FieldType

__all__ = ["MARK", "expression_source", "stored_value"]

MARK = "="
_TEXT_TYPES = (FieldType.STRING, FieldType.TEXT, FieldType.ENUM)


def expression_source(spec: FieldSpec | None, value: Any) -> str | None:
    """The expression ``value`` stands for, or None when it is a plain value."""
    if not isinstance(value, str):
        return None
    if value.lstrip().startswith(MARK):
        return value.replace(MARK, " ", 1)  # columns in messages count from the value's start
    if spec is None or spec.type in _TEXT_TYPES or value_problem(spec, value) is None:
        return None
    return value


def stored_value(spec: FieldSpec | None, result: Any) -> tuple[Any, str | None]:
    """The result as a field keeps it (dates as ISO text), or the reason it cannot be kept."""
    if isinstance(result, datetime):
        result = result.astimezone(UTC).isoformat()
    elif isinstance(result, date):
        result = result.isoformat()
    if result is None:
        return None, "the expression gave no value (a field unset, or a result out of bounds)"
    if spec is not None and spec.type is FieldType.INTEGER and isinstance(result, float):
        return None, "the expression gave a fraction"
    if spec is not None and (problem := value_problem(spec, result)) is not None:
        return None, problem
    return result, None
