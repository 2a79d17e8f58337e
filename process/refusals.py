"""Why a case refuses a request, as a typed value decided where the decision is made.

A refusal carries its kind (what sort of mistake it is: the HTTP API answers 403, 404, 409,
422 or 503 from it), one sentence that says what to fix, and the event and stage it concerns.
The workflow raises it as an ``ApplicationError`` whose ``type`` is the kind, so every client
(kesu's own, the stock Temporal CLI) sees the kind without reading the sentence.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class RefusalKind(StrEnum):
    INVALID = "invalid"
    """The request itself is wrong: unknown process or field, wrong type, missing input."""
    NOT_FOUND = "not_found"
    """No such case."""
    CONFLICT = "conflict"
    """Not in the case's present state: illegal in this stage, case closed, guard not met."""
    FORBIDDEN = "forbidden"
    """The caller's roles may not do this."""
    UNAVAILABLE = "unavailable"
    """Temporal or a worker did not answer: not the caller's mistake, worth retrying."""


class Refusal(BaseModel):
    kind: RefusalKind
    message: str
    """One sentence naming the event and the stage; never a pii field's value."""
    event: str | None = None
    stage: str | None = None
    record: bool = Field(default=False, exclude_if=lambda value: not value)
    """The case records this refusal in its timeline before refusing (an assignment refused
    for a conflict of interest, 回避): the request reaches the case, which stores a step."""

    def __str__(self) -> str:
        return self.message


def refusal_kind_of(type_name: str | None) -> RefusalKind:
    """The kind named by an ``ApplicationError.type``; anything else conflicts with the state."""
    try:
        return RefusalKind(type_name or "")
    except ValueError:
        return RefusalKind.CONFLICT


class IllegalEvent(ValueError):
    """A request this case cannot take now; ``refusal`` says why and what kind of mistake."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
