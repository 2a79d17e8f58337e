"""Customer data on screens and in API answers: shown only to those allowed to see it.

Masking follows the case's own definition version and fails closed (``process.pii``): with no
definition, every value is masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from process.pii import pii_names
from process.spec import ProcessDefinition

MASK = "***"


def may_see_pii(definition: ProcessDefinition | None, roles: Iterable[str]) -> bool:
    """Whether one of ``roles`` is among the definition's ``pii_roles`` (never without one)."""
    return definition is not None and not set(roles).isdisjoint(definition.pii_roles)


def mask_pii(values: Mapping[str, Any], definition: ProcessDefinition | None) -> dict[str, Any]:
    """``values`` with every pii value, and every value of unknown status, replaced by ``***``."""
    hidden = pii_names(definition, values)
    return {name: MASK if name in hidden else value for name, value in values.items()}
