"""Customer data on screens and in API answers: shown only to those allowed to see it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from process.spec import ProcessDefinition

MASK = "***"


def may_see_pii(definition: ProcessDefinition, roles: Iterable[str]) -> bool:
    """Whether one of ``roles`` is among the definition's ``pii_roles``."""
    return not set(roles).isdisjoint(definition.pii_roles)


def mask_pii(values: Mapping[str, Any], definition: ProcessDefinition) -> dict[str, Any]:
    """``values`` with the value of every pii field replaced by ``***``."""
    pii = set(definition.pii_fields)
    return {name: MASK if name in pii else value for name, value in values.items()}
