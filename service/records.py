"""Operations on the stored case records: check the audit trail's hash chains (``verify``) and
move a departing employee's open cases to a colleague (``reassign``).

Both read the database the worker writes; ``reassign`` changes cases only through their
workflows (a recorded ``case.reassigned`` step each), never by editing rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from activities.storage import AuditLink, CaseEventRow, CaseRow, ChainProblem, first_problem

from .cases import Kesu, KesuError


@dataclass(frozen=True)
class CaseRef:
    case_id: str
    case_number: str


def find_case(session: Session, case: str) -> CaseRef:
    """A case by its id or its number (``CP-2026-000123``)."""
    row = session.execute(
        select(CaseRow.case_id, CaseRow.case_number).where(
            or_(CaseRow.case_id == case, CaseRow.case_number == case)
        )
    ).first()
    if row is None:
        raise KesuError(f"no case {case!r} in the database (give a case id or a case number)")
    return CaseRef(row.case_id, row.case_number)


# -- verify ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    case: CaseRef
    steps: int
    problem: ChainProblem | None


def verify_cases(session: Session, case: str | None = None) -> Iterator[Verdict]:
    """Each case's chain checked, in case id order; ``case`` limits it to one."""
    cases = select(CaseRow.case_id, CaseRow.case_number, CaseRow.last_seq).order_by(CaseRow.case_id)
    events = select(CaseEventRow).order_by(CaseEventRow.case_id, CaseEventRow.seq)
    if case is not None:
        ref = find_case(session, case)
        cases = cases.where(CaseRow.case_id == ref.case_id)
        events = events.where(CaseEventRow.case_id == ref.case_id)
    last_seqs = {row.case_id: (row.case_number, row.last_seq) for row in session.execute(cases)}
    trails = groupby(session.scalars(events.execution_options(yield_per=1000)), lambda r: r.case_id)
    seen: set[str] = set()
    for case_id, rows in trails:
        links = [AuditLink(r.seq, r.audit_content(), r.prev_hash, r.row_hash) for r in rows]
        number, last_seq = last_seqs.get(case_id, ("-", None))
        seen.add(case_id)
        yield Verdict(CaseRef(case_id, number), len(links), first_problem(links, last_seq))
    for case_id, (number, last_seq) in last_seqs.items():
        if case_id not in seen:  # every audit row of the case is gone
            yield Verdict(CaseRef(case_id, number), 0, first_problem([], last_seq))


# -- reassign ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenCase:
    case_id: str
    case_number: str
    last_seq: int


@dataclass(frozen=True)
class Reassigned:
    case: OpenCase
    seq: int | None
    """The step that recorded the move; None if it failed."""
    problem: str | None = None


def open_cases_of(session: Session, assignee: str) -> list[OpenCase]:
    query = (
        select(CaseRow.case_id, CaseRow.case_number, CaseRow.last_seq)
        .where(CaseRow.assignee == assignee, CaseRow.closed_at.is_(None))
        .order_by(CaseRow.opened_at, CaseRow.case_id)
    )
    return [OpenCase(row.case_id, row.case_number, row.last_seq) for row in session.execute(query)]


async def reassign_cases(
    kesu: Kesu,
    cases: list[OpenCase],
    from_assignee: str,
    to_assignee: str,
    *,
    actor: str,
    reason: str | None,
    progress: Callable[[Reassigned], None] = lambda _: None,
    roles: list[str] | None = None,
    data: Mapping[str, Any] | None = None,
    justification: str | None = None,
) -> list[Reassigned]:
    """Reassign each case; one failure does not stop the others.

    Idempotent if rerun: a moved case is no longer ``from_assignee``'s in the database (the
    update answers only once its step is stored), and a retried request carries the same
    update id (case and step it was based on), which Temporal applies once.
    """
    if from_assignee == to_assignee:
        raise KesuError("--from and --to name the same person")
    if not to_assignee.strip():
        raise KesuError("--to is blank")
    results = []
    for case in cases:
        try:
            result = await kesu.reassign_case(
                case.case_id, from_assignee, to_assignee, actor=actor, reason=reason,
                request_id=f"reassign:{case.case_id}:{case.last_seq}:{to_assignee}",
                roles=roles, data=data, justification=justification,
            )  # fmt: skip
            done = Reassigned(case, result.seq)
        except KesuError as error:
            done = Reassigned(case, None, str(error))
        progress(done)
        results.append(done)
    return results
