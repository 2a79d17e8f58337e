"""The rules of linking cases: a duplicate merged into a primary case, a case joining a group.

Pure: the service checks a merge with ``merge_problem`` before it sends anything, and each
case's workflow checks its own side with ``link_problem`` (an update validator); both read
links from the cases' timelines, so a retried request finds its step and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

from .access import needs_role
from .events import DUPLICATE_LINKED_EVENT, GROUPED_EVENT, MERGED_EVENT
from .merging import Merging
from .refusals import Refusal, RefusalKind
from .state import CaseState, Step


@dataclass(frozen=True)
class CaseFacts:
    """What the merge rules need to know of a case."""

    case_id: str
    process: str
    closed: bool
    merged_into: str | None = None


def merge_problem(
    duplicate: CaseFacts, primary: CaseFacts, merged_into: Mapping[str, str]
) -> Refusal | None:
    """Why ``duplicate`` cannot be merged into ``primary``, or None.

    ``merged_into`` maps each merged case to the case it was merged into (the stored links)."""
    where = f"merging case {duplicate.case_id} into {primary.case_id}"

    def refuse(kind: RefusalKind, reason: str) -> Refusal:
        return Refusal(kind=kind, message=f"{where}: {reason}", event=MERGED_EVENT)

    if duplicate.case_id == primary.case_id:
        return refuse(RefusalKind.INVALID, "a case cannot be merged into itself")
    if duplicate.process != primary.process:
        return refuse(
            RefusalKind.INVALID,
            f"they belong to different processes ({duplicate.process}, {primary.process})",
        )
    chain, seen = primary.case_id, {primary.case_id}
    while chain in merged_into:
        chain = merged_into[chain]
        if chain == duplicate.case_id:
            return refuse(
                RefusalKind.CONFLICT, f"{primary.case_id} was merged into {chain}: a cycle"
            )
        if chain in seen:
            break
        seen.add(chain)
    if primary.merged_into is not None or primary.case_id in merged_into:
        into = primary.merged_into or merged_into[primary.case_id]
        return refuse(
            RefusalKind.CONFLICT, f"{primary.case_id} is itself merged: merge into {into} instead"
        )
    if primary.closed:
        return refuse(RefusalKind.CONFLICT, f"{primary.case_id} is closed")
    if duplicate.merged_into is not None or duplicate.case_id in merged_into:
        into = duplicate.merged_into or merged_into[duplicate.case_id]
        return refuse(RefusalKind.CONFLICT, f"it is already merged into {into}")
    if duplicate.closed:
        return refuse(RefusalKind.CONFLICT, f"{duplicate.case_id} is closed")
    return None


class LinkKind(StrEnum):
    MERGED_INTO = "merged_into"
    """This case is the duplicate: it closes, pointing to ``other``, the primary."""
    DUPLICATE = "duplicate"
    """This case is the primary: ``other`` was merged into it."""
    GROUP = "group"
    """This case joins the group complaint ``other``."""


class LinkInput(BaseModel):
    """Link a case to another case or to a group (the ``link`` update)."""

    kind: LinkKind
    other: str
    """The primary case, the duplicate, or the group's id."""
    actor: str = "system"
    roles: list[str] = Field(default_factory=list)
    reason: str | None = None
    plan: str | None = None
    """A group's handling plan, recorded in the step of each case that joins it."""


_EVENTS = {
    LinkKind.MERGED_INTO: MERGED_EVENT,
    LinkKind.DUPLICATE: DUPLICATE_LINKED_EVENT,
    LinkKind.GROUP: GROUPED_EVENT,
}
_OTHER = {LinkKind.MERGED_INTO: "into", LinkKind.DUPLICATE: "duplicate", LinkKind.GROUP: "group"}


def link_event(kind: LinkKind) -> str:
    return _EVENTS[kind]


def link_data(request: LinkInput) -> dict[str, str]:
    data = {_OTHER[request.kind]: request.other}
    if request.reason:
        data["reason"] = request.reason
    if request.plan:
        data["plan"] = request.plan
    return data


def recorded_link(steps: Sequence[Step], request: LinkInput) -> Step | None:
    """The step that already recorded this link (a retried request changes nothing)."""
    event, key = _EVENTS[request.kind], _OTHER[request.kind]
    return next(
        (step for step in steps if step.event == event and step.data.get(key) == request.other),
        None,
    )


def merged_into(steps: Sequence[Step]) -> str | None:
    """The primary case a case was merged into, read from its timeline."""
    found = [step for step in steps if step.event == MERGED_EVENT]
    return str(found[-1].data["into"]) if found else None


def duplicates_of(steps: Sequence[Step]) -> list[str]:
    """The cases merged into this one, in the order they were."""
    return [str(step.data["duplicate"]) for step in steps if step.event == DUPLICATE_LINKED_EVENT]


def group_of(steps: Sequence[Step]) -> tuple[str, str | None] | None:
    """The group a case joined, with the handling plan it joined with."""
    found = [step for step in steps if step.event == GROUPED_EVENT]
    if not found:
        return None
    data = found[-1].data
    plan = data.get("plan")
    return str(data["group"]), None if plan is None else str(plan)


def link_problem(
    merging: Merging | None, process: str, state: CaseState, request: LinkInput
) -> Refusal | None:
    """Why this case cannot take the link, or None (a link it already has is no problem)."""
    what = {
        LinkKind.MERGED_INTO: f"merging case {state.case_id} into {request.other}",
        LinkKind.DUPLICATE: f"recording {request.other} as a duplicate of case {state.case_id}",
        LinkKind.GROUP: f"adding case {state.case_id} to group {request.other}",
    }[request.kind]
    event = _EVENTS[request.kind]

    def refuse(kind: RefusalKind, reason: str) -> Refusal:
        return Refusal(kind=kind, message=f"{what}: {reason}", event=event, stage=state.stage)

    if recorded_link(state.steps, request) is not None:
        return None
    if merging is None:
        return refuse(RefusalKind.INVALID, f"process {process!r} declares no merging:")
    if not set(merging.roles) & set(request.roles):
        reason = needs_role(merging.roles, request.actor, request.roles)
        return refuse(RefusalKind.FORBIDDEN, reason)
    if not request.other.strip():
        return refuse(RefusalKind.INVALID, "no case or group named")
    if request.other == state.case_id:
        return refuse(RefusalKind.INVALID, "a case cannot be merged into itself")
    if state.closed_at is not None:
        return refuse(RefusalKind.CONFLICT, "the case is closed")
    if request.kind is LinkKind.GROUP and (joined := group_of(state.steps)) is not None:
        return refuse(RefusalKind.CONFLICT, f"it is already in group {joined[0]}")
    return None
