"""Which of a case's values are customer data, by the case's own definition, failing closed.

Ask with the definition the case runs on (``activities.storage.case_definition`` finds it for
a stored case), never the current file: a field renamed in a newer version is still customer
data in the cases of the older one. A name the definition does not declare, or a case whose
definition is not known, counts as customer data: unknown is never shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from .spec import ProcessDefinition

__all__ = ["pii_names"]


def pii_names(definition: ProcessDefinition | None, names: Iterable[str]) -> set[str]:
    """The names among ``names`` to treat as PII under ``definition`` (None: unknown)."""
    if definition is None:
        return set(names)
    declared = definition.fields
    return {name for name in names if name not in declared or declared[name].pii}
