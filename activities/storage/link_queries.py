"""Reads of the links between cases: possible duplicates of a new case (by the identity index),
the merges a cycle check follows, and the group of each listed case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .links import CaseGroupMemberRow, CaseGroupRow, CaseIdentityRow, CaseMergeRow
from .steps import CaseRow

__all__ = [
    "Candidate",
    "CaseGroupRow",
    "groups_of",
    "has_identity",
    "merge_links",
    "possible_duplicates",
]


@dataclass(frozen=True)
class Candidate:
    case_id: str
    case_number: str
    stage: str
    opened_at: datetime


def possible_duplicates(session: Session, case_id: str, window: timedelta) -> list[Candidate]:
    """Open cases with the same identity hash as ``case_id``, opened up to ``window`` before
    it (or after it), oldest first; by the (process, match_hash, opened_at) index."""
    own = list(session.scalars(select(CaseIdentityRow).where(CaseIdentityRow.case_id == case_id)))
    if not own:
        return []
    opened_at = own[0].opened_at
    other = CaseIdentityRow
    query = (
        select(CaseRow.case_id, CaseRow.case_number, CaseRow.stage, CaseRow.opened_at)
        .join(other, other.case_id == CaseRow.case_id)
        .where(
            other.process == own[0].process,
            other.match_hash.in_(sorted({row.match_hash for row in own})),
            other.opened_at >= opened_at - window,
            other.case_id != case_id,
            CaseRow.closed_at.is_(None),
        )
        .distinct()
        .order_by(CaseRow.opened_at, CaseRow.case_id)
    )
    return [Candidate(*row) for row in session.execute(query)]


def has_identity(session: Session, case_id: str) -> bool:
    query = select(CaseIdentityRow.case_id).where(CaseIdentityRow.case_id == case_id).limit(1)
    return session.scalar(query) is not None


def merge_links(session: Session, case_ids: Sequence[str]) -> dict[str, str]:
    """Duplicate -> primary for the merges reachable from ``case_ids`` (for cycle checks)."""
    found: dict[str, str] = {}
    frontier = set(case_ids)
    while frontier:
        query = select(CaseMergeRow.duplicate_id, CaseMergeRow.primary_id).where(
            CaseMergeRow.duplicate_id.in_(sorted(frontier))
        )
        step = {duplicate: primary for duplicate, primary in session.execute(query)}
        found.update(step)
        frontier = {primary for primary in step.values() if primary not in found}
    return found


def groups_of(session: Session, case_ids: Sequence[str]) -> dict[str, str]:
    """Case id -> the group it is in, for the cases of a listing."""
    if not case_ids:
        return {}
    query = select(CaseGroupMemberRow.case_id, CaseGroupMemberRow.group_id).where(
        CaseGroupMemberRow.case_id.in_(sorted(set(case_ids)))
    )
    return {case_id: group_id for case_id, group_id in session.execute(query)}
