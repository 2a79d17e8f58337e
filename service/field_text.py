"""Typed field values from text people type (a command line, a web form)."""

from __future__ import annotations

from typing import Any

from process.spec import FieldSpec, FieldType


def field_from_text(spec: FieldSpec | None, text: str) -> Any:
    """``amount=50000`` -> 50000: typed text becomes the field's type where it can.

    Text that does not fit is passed on unchanged, so the case refuses it naming the field and
    its expected type (one place decides what is valid: the case's admission checks).
    """
    if spec is None:
        return text  # an unknown field: the case will refuse it by name
    try:
        if spec.type is FieldType.NUMBER:
            return float(text) if any(ch in text for ch in ".eE") else int(text)
        if spec.type is FieldType.INTEGER:
            return int(text)
    except ValueError:
        return text  # refused with the field's expected type
    if spec.type is FieldType.BOOLEAN and text.lower() in ("true", "false", "on"):
        return text.lower() != "false"
    return text
