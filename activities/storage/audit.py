"""Tamper evidence for the audit trail: every step's row carries a hash chained to the one before.

``row_hash = sha256(previous row's hash + canonical JSON of the row's content)``; step 0 chains
to ``GENESIS``. Editing a row changes its content hash; deleting or reordering rows breaks the
chain at the next one. Pure functions: ``store_step`` uses them to seal a row, ``verify`` to
check it.

The hash must survive a round trip through either database, so the content is canonicalised:
keys sorted, times as UTC ISO text with microseconds, and integral floats written as integers
(PostgreSQL's JSONB gives ``1e20`` back as ``100000000000000000000``). Encrypted customer data
is hashed through a digest of its ciphertext (``activities.sealed``), so that destroying a
case's data leaves its chain verifiable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .sealed import audit_form

GENESIS = "0" * 64
"""What step 0 of every case chains to."""

HASHED_COLUMNS = (
    "case_id",
    "seq",
    "event",
    "from_stage",
    "to_stage",
    "actor",
    "role",
    "data",
    "notes",
    "clocks",
    "at",
)
"""The columns of an audit row its hash covers: everything but the row id and the hashes."""


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return audit_form(value)  # encrypted customer data: sealed as stored, even once shredded
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def canonical_json(content: Mapping[str, Any]) -> str:
    # ensure_ascii=False: Chinese text hashes as its UTF-8 bytes, the same on every machine.
    return json.dumps(
        _canonical(content), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def chain_hash(previous: str, content: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(previous.encode("ascii"))
    digest.update(canonical_json(content).encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class AuditLink:
    """One stored audit row, as ``verify`` reads it."""

    seq: int
    content: Mapping[str, Any]
    prev_hash: str
    row_hash: str


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str
    """``edited``, ``missing`` or ``reordered``."""
    detail: str

    def __str__(self) -> str:
        return f"seq {self.seq} {self.kind}: {self.detail}"


def first_problem(links: list[AuditLink], last_seq: int | None) -> ChainProblem | None:
    """The first break in one case's chain (``links`` in seq order), or None if it is intact.

    ``last_seq`` is the case row's count of steps: it reveals rows deleted from the end, which
    no later row could.
    """
    by_hash = {link.row_hash: link.seq for link in links}
    previous = GENESIS
    for expected, link in enumerate(links):
        if link.seq != expected:
            return ChainProblem(expected, "missing", f"no row for it (next row is seq {link.seq})")
        if link.prev_hash != previous:
            if link.prev_hash in by_hash:
                was = by_hash[link.prev_hash]
                return ChainProblem(
                    link.seq, "reordered", f"it was sealed after seq {was}, not seq {expected - 1}"
                )
            return ChainProblem(
                link.seq, "missing", "the row it was chained to is gone or was replaced"
            )
        if chain_hash(previous, link.content) != link.row_hash:
            return ChainProblem(link.seq, "edited", "its content no longer matches its hash")
        previous = link.row_hash
    if last_seq is not None and last_seq >= len(links):
        return ChainProblem(
            len(links), "missing", f"the case has steps up to seq {last_seq}, the trail ends before"
        )
    return None
