"""How an encrypted customer-data value looks where it is stored, and how the audit chain sees it.

A pii value is stored as ``kesu:enc:1:<base64 of nonce + AES-GCM ciphertext>`` (see
``activities.casekeys``). Destroying a case's data replaces it with
``kesu:shredded:<sha256 of the encrypted text>``. The audit chain hashes both as
``kesu:sealed:<that sha256>``: it seals what is stored, and clearing a destroyed case's
columns leaves every hash as it was. Pure functions, no keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

SEALED_PREFIX = "kesu:enc:1:"
SHREDDED_PREFIX = "kesu:shredded:"
_AUDIT_PREFIX = "kesu:sealed:"


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def is_shredded(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SHREDDED_PREFIX)


def shredded(value: str) -> str:
    """What remains of a sealed value once its case key is destroyed."""
    return SHREDDED_PREFIX + hashlib.sha256(value.encode("ascii")).hexdigest()


def audit_form(value: str) -> str:
    """A stored text as the audit chain hashes it."""
    if value.startswith(SEALED_PREFIX):
        return _AUDIT_PREFIX + hashlib.sha256(value.encode("ascii")).hexdigest()
    if value.startswith(SHREDDED_PREFIX):
        return _AUDIT_PREFIX + value.removeprefix(SHREDDED_PREFIX)
    return value


def map_values(values: Mapping[str, Any], change: Callable[[str, Any], Any]) -> dict[str, Any]:
    """``values`` (fields, event data or message params, whose ``fields`` are the case's) with
    ``change(name, value)`` applied to each entry and to each entry of a ``fields`` mapping."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "fields" and isinstance(value, Mapping):
            out[name] = {inner: change(inner, item) for inner, item in value.items()}
        else:
            out[name] = change(name, value)
    return out


def holds_sealed(values: Mapping[str, Any]) -> bool:
    found = False

    def look(_name: str, value: Any) -> Any:
        nonlocal found
        found = found or is_sealed(value)
        return value

    map_values(values, look)
    return found
