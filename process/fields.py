"""Checking case field values against their declared types.

Used when a definition loads (defaults, ``set`` actions, decision tables) and whenever data
enters a case (start inputs, event inputs). Values stay JSON-friendly: dates are ISO text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from .spec import FieldSpec, FieldType

LARGEST_INTEGER = 2**63 - 1
"""Whole numbers beyond 64 bits fit no database column kesu writes them to."""


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is (in PostgreSQL, in UTF-8), or None.

    PostgreSQL text cannot hold NUL; a lone surrogate (half of a UTF-16 pair, as JSON's
    ``"\\ud800"``) is no character at all and has no UTF-8 form.
    """
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "contains a lone surrogate (\\ud800-\\udfff), which is not a character"
    return None


def number_problem(value: int | float) -> str | None:
    """Why a number cannot be stored: NaN and infinities (1e999 reads as infinity) are not
    numbers JSON or the database keep, and integers past 64 bits overflow the columns."""
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number (NaN, Infinity, 1e999...)"
    if isinstance(value, int) and abs(value) > LARGEST_INTEGER:
        return f"out of range (at most {LARGEST_INTEGER} either way)"
    return None


def storage_problem(value: Any) -> str | None:
    """Why ``value`` could never be stored, whatever its field; the value is not repeated."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_problem(value)
    if isinstance(value, dict):
        value = [*value, *value.values()]
    if isinstance(value, list | tuple):
        return next(filter(None, map(storage_problem, value)), None)
    return None


def value_problem(field: FieldSpec, value: Any) -> str | None:
    """Why ``value`` does not fit ``field``, or None when it does. None always fits (unset)."""
    if value is None:
        return None
    if (problem := storage_problem(value)) is not None:
        return problem
    kind = field.type
    if kind in (FieldType.STRING, FieldType.TEXT):
        return None if isinstance(value, str) else f"expected text, got {_describe(value)}"
    if kind is FieldType.NUMBER:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return None if is_number else f"expected a number, got {_describe(value)}"
    if kind is FieldType.INTEGER:
        is_integer = isinstance(value, int) and not isinstance(value, bool)
        return None if is_integer else f"expected a whole number, got {_describe(value)}"
    if kind is FieldType.BOOLEAN:
        return (
            None if isinstance(value, bool) else f"expected true or false, got {_describe(value)}"
        )
    if kind is FieldType.ENUM:
        allowed = field.values or []
        if value in allowed:
            return None
        return f"{value!r} is not one of {', '.join(allowed)}"
    return _temporal_problem(kind, value)


def _temporal_problem(kind: FieldType, value: Any) -> str | None:
    parse = date.fromisoformat if kind is FieldType.DATE else datetime.fromisoformat
    example = "2026-11-23" if kind is FieldType.DATE else "2026-11-23T09:30:00+08:00"
    if isinstance(value, str):
        try:
            parse(value)
            return None
        except ValueError:
            pass
    return f"expected an ISO {kind.value} like {example}, got {_describe(value)}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, int | float):
        return f"number {value}"
    return type(value).__name__


def data_problems(
    fields: Mapping[str, FieldSpec], data: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(field name, problem) for every unknown field and every value of the wrong type.

    A pii field's problem does not repeat its value: refusals end up in logs and screens.
    """
    problems: list[tuple[str, str]] = []
    for name, value in data.items():
        spec = fields.get(name)
        if spec is None:
            problems.append((name, "unknown field"))
        elif (problem := storage_problem(value)) is not None:
            problems.append((name, problem))
        elif (problem := value_problem(spec, value)) is not None:
            problems.append((name, f"not a valid {spec.type.value}" if spec.pii else problem))
    return problems


def has_value(value: Any) -> bool:
    """A required field counts as given unless it is missing, null or blank text."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def initial_fields(fields: Mapping[str, FieldSpec], given: Mapping[str, Any]) -> dict[str, Any]:
    """Declared defaults overlaid with the given values (already checked)."""
    values = {name: spec.default for name, spec in fields.items() if spec.default is not None}
    values.update(given)
    return values
