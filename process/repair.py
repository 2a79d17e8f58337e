"""Repairing a halted case: after an operator fixed what made the database refuse a step.

A case halts when the database refuses one of its steps for its data (see
``activities.storage.faults``). The step stays in the workflow, unsaved. A repair stores it
again; if the database takes it now, the repair itself is recorded as a ``case.repaired`` step
(who, when, why) in the case's audited timeline, and the case goes on. If not, the case halts
again with the new reason: nothing is recorded but the halt.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from .events import REPAIRED_EVENT
from .refusals import Refusal, RefusalKind
from .state import CaseState, Outcome, Step

MAX_REASON = 2000


class RepairInput(BaseModel):
    """Try the step a case halted on again, now that its cause is fixed."""

    actor: str
    reason: str
    """Why the step can be stored now (what was fixed): kept in the case's timeline."""
    role: str | None = None


class HaltedStep(BaseModel):
    """The step a case halted on, as its alert and its repair name it (no customer data)."""

    seq: int
    event: str
    failure: str
    """What kind of failure: the database error's class (``UntranslatableCharacter ...``)."""


def repair_problem(case_id: str, halted: HaltedStep | None, request: RepairInput) -> Refusal | None:
    """Why ``request`` cannot repair the case now, or None."""
    if halted is None:
        return Refusal(
            kind=RefusalKind.CONFLICT,
            message=f"case {case_id} is not halted: there is nothing to repair",
            event=REPAIRED_EVENT,
        )
    if not request.reason.strip():
        return Refusal(
            kind=RefusalKind.INVALID,
            message=f"repairing case {case_id}: say why (what was fixed)",
            event=REPAIRED_EVENT,
        )
    if len(request.reason) > MAX_REASON:
        return Refusal(
            kind=RefusalKind.INVALID,
            message=f"repairing case {case_id}: the reason is longer than {MAX_REASON}",
            event=REPAIRED_EVENT,
        )
    return None


def record_repair(
    state: CaseState, halted: HaltedStep, request: RepairInput, at: datetime
) -> Outcome:
    """The ``case.repaired`` step, added to ``state``: the halted step is stored by now."""
    step = Step(
        seq=state.next_seq,
        at=at,
        event=REPAIRED_EVENT,
        from_stage=state.stage,
        to_stage=state.stage,
        actor=request.actor,
        role=request.role,
        data={"step": halted.seq, "failure": halted.failure},
        notes=[
            f"step {halted.seq} ({halted.event}) stored after a halt: {halted.failure}",
            f"reason: {request.reason}",
        ],
    )
    state.steps.append(step)
    return Outcome(step=step)
