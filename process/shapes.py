"""Pydantic's shape errors in a designer's words.

Pydantic says ``Extra inputs are not permitted`` and ``Input should be a valid list``; a
designer needs ``unknown key 'on_entry'; did you mean 'on_enter'?`` and ``this is a list:
write each item on its own line starting with '- '``. The keys a place accepts come from the
same models the loader validates with, so suggestions never drift from the language.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from .durations import shown

Path = tuple[str | int, ...]


def _members(annotation: Any) -> list[Any]:
    """The types an annotation allows, with Annotated and Optional unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in get_args(annotation) for member in _members(arg)]
    return [annotation]


def _step(annotation: Any, part: str | int) -> Any:
    for member in _members(annotation):
        origin = get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            field = member.model_fields.get(part)
            if field is not None:
                return field.annotation
        elif origin is list and isinstance(part, int):
            return get_args(member)[0]
        elif origin is dict and isinstance(part, str):
            return get_args(member)[1]
    return None


def model_at(model: type[BaseModel], path: Sequence[str | int]) -> type[BaseModel] | None:
    """The model that validates the mapping at ``path`` (None if it is not a model's)."""
    annotation: Any = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def unknown_key(model: type[BaseModel], path: Path) -> str:
    key = str(path[-1])
    message = f"unknown key {key!r}"
    owner = model_at(model, path[:-1])
    if owner is None:
        return message
    known = list(owner.model_fields)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; known keys here: {', '.join(known)}"


def given(value: Any) -> str:
    """What the designer wrote, as a designer would call it."""
    if isinstance(value, dict):
        return "a mapping (key: value)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"text {shown(value)}"
    if value is None:
        return "nothing (null)"
    return repr(value)


def describe_shape_error(model: type[BaseModel], path: Path, detail: ErrorDetails) -> str:
    kind = detail["type"]
    value = detail.get("input")
    if kind == "extra_forbidden":
        return unknown_key(model, path)
    if kind == "list_type":
        if isinstance(value, dict):
            return (
                "this is a list, written as a mapping: put each item on its own line starting "
                "with '- ', or write [a, b]"
            )
        return f"expected a list ('- ' items, or [a, b]), got {given(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        if isinstance(value, list):
            return (
                "this is a mapping (key: value lines), written as a list: drop the '- ' "
                "before each entry"
            )
        return f"expected a mapping (key: value lines), got {given(value)}"
    message = detail["msg"].removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error"):
        if isinstance(value, str):
            message = f"{message}, got {shown(value)}"
        elif isinstance(value, int | float | bool):
            message = f"{message}, got {value!r}"
        elif isinstance(value, dict | list):
            message = f"{message}, got {given(value)}"
    return message
