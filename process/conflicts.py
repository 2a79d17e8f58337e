"""Conflict of interest (回避): who may not be made responsible for a case.

A definition names the case's conflict set with ``conflicts:``: fields naming people who may
not handle the case (the employee the complaint is about), and fields naming a unit whose staff
may not handle it (the branch complained about), compared with what the assignment says of the
new assignee (their branch). An assignment into the set is refused with the rule's reason and
the refusal is recorded in the case's timeline; a role the definition names may override it
with a justification, which is recorded too.

Pure: ``assignment_conflict`` reads a case's fields and a change to them, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .refusals import Refusal, RefusalKind

ASSIGNEE_FIELD = "assignee"
"""The default field naming the responsible person (``process.state`` names the same)."""
ASSIGNMENT_REFUSED_EVENT = "case.assignment_refused"
"""A timeline step recording an assignment refused for a conflict of interest."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ConflictRule(_Model):
    """One part of the conflict set: a field of the case naming a person or a unit."""

    field: str
    """The case field, e.g. ``subject_employee`` (a person) or ``branch`` (a unit)."""
    assignee_field: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """Absent: the assignee may not be the person ``field`` names. Set: the field an assignment
    carries about its new assignee (``assignee_branch``, their branch); the assignee may not
    belong to the unit ``field`` names. An assignment that leaves it out is refused (the
    conflict could not be checked)."""
    reason: str
    """Why, for the person refused: ``被投诉员工须回避 the employee complained about``."""


class Conflicts(_Model):
    """回避: assignments into the case's conflict set are refused, and recorded."""

    title: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """The rule's name for people, e.g. ``回避 Conflict of interest``."""
    assignee: str = ASSIGNEE_FIELD
    """The field naming the responsible person."""
    rules: list[ConflictRule] = Field(min_length=1)
    """The conflict set: each a field of the case and the reason."""
    override_roles: list[str] = Field(default_factory=list)
    """Roles that may assign despite a conflict, giving a ``justification``; empty: nobody."""
    justification: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """The text field an override carries its justification in (kept in the case)."""

    def watched(self) -> set[str]:
        """The fields whose change calls for a check."""
        names = {self.assignee}
        for rule in self.rules:
            names.add(rule.field)
            if rule.assignee_field is not None:
                names.add(rule.assignee_field)
        return names

    def assignee_fields(self) -> list[str]:
        return [rule.assignee_field for rule in self.rules if rule.assignee_field is not None]

    def of(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The values of ``data`` the rules read: what a refusal step records."""
        watched = self.watched()
        return {name: value for name, value in data.items() if name in watched}


@dataclass(frozen=True)
class Verdict:
    """What the conflict rules say of one change: nothing, a refusal, or an override."""

    refused: str | None = None
    """A conflict not overridden: the reason (recorded in the timeline, answered 409)."""
    invalid: str | None = None
    """The change cannot be checked (a fact about the assignee missing): answered 422."""
    forbidden: str | None = None
    """A justification from a role that may not override: answered 403."""
    overridden: str | None = None
    """A conflict overridden: the note the step records."""


CLEAR = Verdict()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _found(conflicts: Conflicts, after: Mapping[str, Any]) -> list[str]:
    """The reasons the case after the change has its assignee in its conflict set."""
    assignee = _text(after.get(conflicts.assignee))
    if assignee is None:
        return []
    reasons = []
    for rule in conflicts.rules:
        named = _text(after.get(rule.field))
        if named is None:
            continue
        compared = (
            assignee if rule.assignee_field is None else _text(after.get(rule.assignee_field))
        )
        if compared is not None and compared.casefold() == named.casefold():
            reasons.append(f"{rule.reason} ({rule.field})")
    return reasons


def assignment_conflict(
    conflicts: Conflicts | None,
    fields: Mapping[str, Any],
    change: Mapping[str, Any],
    role: str | None,
    justification: str | None,
) -> Verdict:
    """What the rules say of changing ``fields`` by ``change``, done acting as ``role``.

    ``justification`` is the override's, when one is given."""
    if conflicts is None or not conflicts.watched() & set(change):
        return CLEAR
    after = {**fields, **change}
    new_assignee = conflicts.assignee in change and _text(change[conflicts.assignee]) is not None
    if new_assignee:
        missing = [
            rule.assignee_field
            for rule in conflicts.rules
            if rule.assignee_field is not None
            and _text(after.get(rule.field)) is not None
            and _text(change.get(rule.assignee_field)) is None
        ]
        if missing:
            named = ", ".join(map(repr, missing))
            return Verdict(invalid=f"say {named} of the new assignee: the conflict rules need it")
    reasons = _found(conflicts, after)
    given = _text(justification)
    if given is not None and role not in conflicts.override_roles:
        who = " or ".join(conflicts.override_roles) or "nobody"
        return Verdict(forbidden=f"only {who} may override a conflict of interest")
    if not reasons:
        return CLEAR
    conflict = "; ".join(reasons)
    title = conflicts.title or "conflict of interest"
    if given is None:
        how = ""
        if conflicts.override_roles:
            how = f" ({' or '.join(conflicts.override_roles)} may override with a justification)"
        return Verdict(refused=f"{title}: {conflict}{how}")
    return Verdict(overridden=f"{title} overridden as {role}: {conflict}; justification: {given}")


def verdict_refusal(verdict: Verdict, where: str, event: str, stage: str) -> Refusal | None:
    """The refusal a verdict makes, or None when the change may go ahead. Only a conflict
    is recorded (``record``): a change that cannot be checked, or a justification from the
    wrong role, is a plain mistake of the request."""
    for kind, reason in (
        (RefusalKind.INVALID, verdict.invalid),
        (RefusalKind.FORBIDDEN, verdict.forbidden),
    ):
        if reason is not None:
            return Refusal(kind=kind, message=f"{where}: {reason}", event=event, stage=stage)
    if verdict.refused is None:
        return None
    message = f"{where}: {verdict.refused}"
    return Refusal(
        kind=RefusalKind.CONFLICT, message=message, event=event, stage=stage, record=True
    )
