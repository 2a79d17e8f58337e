"""What kind of mistake a refusal is, so an HTTP API can answer 403, 404, 409 or 422.

The workflow refuses an event with one sentence naming the event and the stage
(``workflows/admission.py``, ``CaseEngine.reassign_problem``); it stays the one place that
decides. Here that sentence is only sorted, by the phrase after the event and stage, into the
kind of answer a caller needs. ``tests/test_refusals.py`` drives every refusal the workflow can
give through ``refusal_kind`` so a reworded message cannot silently change its kind.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Refusal(StrEnum):
    INVALID = "invalid"
    """The request itself is wrong: unknown process or field, wrong type, missing input."""
    NOT_FOUND = "not_found"
    """No such case."""
    CONFLICT = "conflict"
    """Not in the case's present state: illegal in this stage, case closed, guard not met."""
    FORBIDDEN = "forbidden"
    """The caller's roles may not do this."""
    UNAVAILABLE = "unavailable"
    """Temporal did not answer: not the caller's mistake, worth retrying."""


class KesuError(Exception):
    """A request kesu refuses, with the reason (unknown process, bad field, illegal event...).

    ``kind`` says what sort of mistake it is (the HTTP API's status code); the message says
    what to fix.
    """

    def __init__(self, message: str, kind: Refusal = Refusal.INVALID) -> None:
        super().__init__(message)
        self.kind = kind


# The phrase that follows "event 'x' in stage 'y': " (or "reassigning case c: ").
_KINDS: tuple[tuple[re.Pattern[str], Refusal], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"^needs role ", Refusal.FORBIDDEN),
        (r"^field '", Refusal.INVALID),
        (r"^requires input ", Refusal.INVALID),
        (r"^stage '.*' requires .* first$", Refusal.INVALID),
        (r"^process '.*' has no '.*' field$", Refusal.INVALID),
        (r"^the new assignee is blank$", Refusal.INVALID),
        (r"^not allowed here ", Refusal.CONFLICT),
        (r"^(the )?case .*is closed$", Refusal.CONFLICT),
        (r"^condition not met: ", Refusal.CONFLICT),
        (r"^it is assigned to ", Refusal.CONFLICT),
    )
)
_SUBJECT = re.compile(r"^(event '.*?' in stage '.*?'|reassigning case \S+): ", re.DOTALL)


def refusal_kind(message: str) -> Refusal:
    """The kind of a workflow's refusal; one it does not know is a conflict with the state."""
    subject = _SUBJECT.match(message)
    reason = message[subject.end() :] if subject else message
    for pattern, kind in _KINDS:
        if pattern.search(reason):
            return kind
    return Refusal.CONFLICT
