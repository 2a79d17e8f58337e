"""Duplicates, merges and group complaints: the operations over ``Kesu`` and the case database.

A new case's possible duplicates are found in SQL (the identity index, keyed hashes only). A
merge is checked whole before anything is sent, then recorded on both cases through their
workflows: the duplicate closes (a ``case.merged`` step pointing to the primary, no message to
the customer) and the primary records ``case.duplicate_linked``. Both are idempotent (update
ids and a look at the timelines), so a merge interrupted half way is completed by sending it
again. A group is a row with its handling plan; each case joins it by a ``case.grouped`` step.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import (
    Candidate,
    CaseGroupMemberRow,
    CaseGroupRow,
    CaseRow,
    groups_of,
    has_identity,
    merge_links,
    possible_duplicates,
)
from process.access import needs_role, roles_allow
from process.links import (
    CaseFacts,
    LinkInput,
    LinkKind,
    merge_problem,
    merged_into,
    recorded_link,
)
from process.merging import Merging
from process.refusals import RefusalKind
from process.state import EventResult
from workflows.case import CaseView

from .cases import Kesu, KesuError

MAX_PLAN = 4000


@dataclass(frozen=True)
class Duplicates:
    """The open cases of the same customer and category within the window, or why unchecked."""

    checked: bool
    cases: list[Candidate] = field(default_factory=list)
    reason: str | None = None
    declared: bool = True
    """False: the case's process declares no ``merging:`` (nothing to check)."""


@dataclass(frozen=True)
class Merged:
    duplicate: EventResult
    primary: EventResult


@dataclass(frozen=True)
class Member:
    case_id: str
    case_number: str
    stage: str
    closed: bool


@dataclass(frozen=True)
class Group:
    group_id: str
    process: str
    title: str | None
    plan: str
    created_by: str
    created_at: datetime
    members: list[Member] = field(default_factory=list)


class Linking:
    def __init__(self, kesu: Kesu, sessions: sessionmaker[Session] | None = None) -> None:
        self._kesu = kesu
        found = sessions if sessions is not None else kesu.records
        if found is None:
            raise KesuError("duplicates, merges and groups read the case database")
        self._sessions = found

    def _merging(self, view: CaseView) -> Merging | None:
        spec = self._kesu.definition_of(view.state)
        return None if spec is None else spec.definition.merging

    # -- duplicates of a new case -------------------------------------------------------------

    async def duplicates(self, case_id: str) -> Duplicates:
        """Open cases of the same customer and category opened within the window."""
        view = await self._kesu.get_case(case_id)
        merging = self._merging(view)
        if merging is None:
            reason = f"{view.state.process} declares no merging:"
            return Duplicates(checked=False, reason=reason, declared=False)
        if 0 in view.pending:
            await self._kesu.wait_opened(case_id)
        try:
            return await asyncio.to_thread(self._duplicates, case_id, view, merging)
        except SQLAlchemyError as error:  # the case is open all the same: say so, go on
            reason = f"the case database cannot be read: {type(error).__name__}"
            return Duplicates(checked=False, reason=reason)

    def _duplicates(self, case_id: str, view: CaseView, merging: Merging) -> Duplicates:
        with self._sessions() as session:
            if not has_identity(session, case_id):
                return Duplicates(checked=False, reason=_why_unchecked(view, merging, self._kesu))
            return Duplicates(
                checked=True, cases=possible_duplicates(session, case_id, merging.window_span)
            )

    # -- merging --------------------------------------------------------------------------------

    async def merge(
        self,
        duplicate: str,
        into: str,
        *,
        actor: str,
        roles: list[str],
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Merged:
        """Merge ``duplicate`` into the primary case ``into``; checked whole before any step."""
        if duplicate == into:
            raise KesuError(f"merging case {duplicate} into itself: pick another primary case")
        dup_view, primary_view = await asyncio.gather(
            self._kesu.get_case(duplicate), self._kesu.get_case(into)
        )
        request_id = request_id or uuid.uuid4().hex
        dup, primary = _facts(dup_view), _facts(primary_view)
        if dup.merged_into != into:  # else only the primary's record may be missing: retried
            links = await asyncio.to_thread(self._merge_links, [duplicate, into])
            problem = merge_problem(dup, primary, links)
            if problem is not None:
                raise KesuError(problem.message, problem.kind)
        merging = self._merging(dup_view)
        for view in (dup_view, primary_view):  # both record it: both versions must know how
            if self._merging(view) is None:
                state = view.state
                raise KesuError(
                    f"merging case {duplicate} into {into}: case {state.case_id} runs "
                    f"{state.process} v{state.version}, which declares no merging:"
                )
        assert merging is not None
        _require_merging_role(merging, actor, roles, f"merging case {duplicate}")
        request = LinkInput(
            kind=LinkKind.MERGED_INTO, other=into, actor=actor, roles=roles, reason=reason
        )
        done = recorded_link(dup_view.state.steps, request)
        if done is not None:  # merged before (its workflow has ended): only the primary's side
            closed = EventResult(
                seq=done.seq, from_stage=done.from_stage or "", stage=done.to_stage, closed=True
            )
        else:
            closed = await self._kesu.link_case(duplicate, request, f"{request_id}:duplicate")
        recorded = LinkInput(
            kind=LinkKind.DUPLICATE, other=duplicate, actor=actor, roles=roles, reason=reason
        )
        linked = await self._kesu.link_case(into, recorded, f"{request_id}:primary")
        return Merged(duplicate=closed, primary=linked)

    def groups_of(self, case_ids: list[str]) -> dict[str, str]:
        """Case id -> its group, for a listing."""
        with self._sessions() as session:
            return groups_of(session, case_ids)

    def _merge_links(self, case_ids: list[str]) -> dict[str, str]:
        with self._sessions() as session:
            return merge_links(session, case_ids)

    # -- group complaints -----------------------------------------------------------------------

    def create_group(
        self, process: str, plan: str, *, actor: str, roles: list[str], title: str | None = None
    ) -> Group:
        """A new group complaint of ``process`` with its handling plan."""
        merging = self._kesu.spec(process).definition.merging
        if merging is None:
            raise KesuError(f"a group of {process} cases: {process} declares no merging:")
        _require_merging_role(merging, actor, roles, f"creating a group of {process} cases")
        if not plan.strip() or len(plan) > MAX_PLAN:
            raise KesuError(f"a group's handling plan is 1-{MAX_PLAN} characters")
        row = CaseGroupRow(
            group_id=f"G-{uuid.uuid4().hex[:10].upper()}", process=process, title=title,
            plan=plan, created_by=actor, created_at=datetime.now(UTC),
        )  # fmt: skip
        with self._sessions.begin() as session:
            session.add(row)
        return self.group(row.group_id)

    def group(self, group_id: str) -> Group:
        with self._sessions() as session:
            row = session.get(CaseGroupRow, group_id)
            if row is None:
                raise KesuError(f"no group {group_id!r}", RefusalKind.NOT_FOUND)
            query = (
                select(CaseRow.case_id, CaseRow.case_number, CaseRow.stage, CaseRow.closed_at)
                .join(CaseGroupMemberRow, CaseGroupMemberRow.case_id == CaseRow.case_id)
                .where(CaseGroupMemberRow.group_id == group_id)
                .order_by(CaseRow.case_number)
            )
            members = [
                Member(case_id, number, stage, closed is not None)
                for case_id, number, stage, closed in session.execute(query)
            ]
            return Group(
                group_id=row.group_id, process=row.process, title=row.title, plan=row.plan,
                created_by=row.created_by, created_at=row.created_at, members=members,
            )  # fmt: skip

    async def add_to_group(
        self,
        group_id: str,
        case_id: str,
        *,
        actor: str,
        roles: list[str],
        request_id: str | None = None,
    ) -> EventResult:
        """Link a case to the group: a ``case.grouped`` step with the group's handling plan."""
        group = await asyncio.to_thread(self.group, group_id)
        view = await self._kesu.get_case(case_id)
        if view.state.process != group.process:
            raise KesuError(
                f"adding case {case_id} to group {group_id}: the group is of "
                f"{group.process} cases, not {view.state.process}"
            )
        request = LinkInput(
            kind=LinkKind.GROUP, other=group_id, actor=actor, roles=roles, plan=group.plan
        )
        return await self._kesu.link_case(case_id, request, request_id or f"group:{group_id}")


def _require_merging_role(merging: Merging, actor: str, roles: list[str], doing: str) -> None:
    """Refuse (403) unless ``roles`` hold one of the definition's ``merging.roles``."""
    if not roles_allow(merging.roles, roles):
        reason = needs_role(merging.roles, actor, roles)
        raise KesuError(f"{doing}: {reason}", RefusalKind.FORBIDDEN)


def _facts(view: CaseView) -> CaseFacts:
    state = view.state
    return CaseFacts(
        case_id=state.case_id,
        process=state.process,
        closed=state.closed_at is not None,
        merged_into=merged_into(state.steps),
    )


def _why_unchecked(view: CaseView, merging: Merging, kesu: Kesu) -> str:
    fields = view.state.fields
    missing = [name for name in merging.customer if fields.get(name) is None]
    if missing:
        return f"no customer to compare: {', '.join(missing)} not given"
    spec = kesu.definition_of(view.state)
    pii = set(spec.definition.pii_fields) if spec is not None else set(merging.customer)
    named = [*merging.customer, *([merging.category] if merging.category else [])]
    if pii & set(named):
        return "the customer is customer data and no payload key is configured to hash it"
    return "the case's identity is not stored yet"
