"""HTTP routes for duplicates, merges and group complaints (over ``service.linking``).

Who may merge or group is the case's definition's ``merging.roles``, checked against the
token's roles; the duplicates of a new case come with ``POST /cases``'s answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Response
from starlette.concurrency import run_in_threadpool

from process.events import DUPLICATE_LINKED_EVENT, GROUPED_EVENT, MERGED_EVENT
from service.cases import Kesu
from service.linking import Group, Linking

from . import models, views
from .deps import Caller, CaseId, IdempotencyKey, Service, Writer, error_responses, step_route

Resolve = Callable[[str], Awaitable[tuple[str, str | None]]]


async def duplicates_of(
    kesu: Kesu, case_id: str
) -> tuple[list[models.PossibleDuplicate] | None, str | None]:
    """The new case's possible duplicates for ``POST /cases``, or null and why not."""
    if kesu.records is None:
        return None, None
    found = await Linking(kesu).duplicates(case_id)
    if not found.declared:
        return None, None
    if not found.checked:
        return None, found.reason
    return [models.PossibleDuplicate(**vars(case)) for case in found.cases], None


def groups_of(kesu: Kesu, case_ids: list[str]) -> dict[str, str]:
    """The group of each listed case (one query)."""
    return Linking(kesu).groups_of(case_ids)


def _group_body(group: Group) -> models.Group:
    return models.Group(
        group_id=group.group_id, process=group.process, title=group.title, plan=group.plan,
        created_by=group.created_by, created_at=group.created_at,
        cases=[models.GroupMember(**vars(member)) for member in group.members],
    )  # fmt: skip


def install_linking(app: FastAPI, resolve: Resolve) -> None:
    @app.post(
        "/cases/{case_id}/merge",
        response_model=models.Merged,
        responses=error_responses(403, 404, 409),
        tags=["cases"],
    )
    async def merge_case(
        case_id: CaseId,
        body: models.Merge,
        kesu: Service,
        who: Writer,
        idempotency_key: IdempotencyKey = None,
    ) -> models.Merged:
        """Merge this duplicate into the primary case ``into`` (a role of the definition's
        ``merging.roles``): the duplicate closes with a ``case.merged`` step and sends the
        customer nothing, the primary records ``case.duplicate_linked``. Refused (422/409)
        into itself, across processes, into a closed or merged case, or round a cycle."""
        duplicate, duplicate_number = await resolve(case_id)
        primary, primary_number = await resolve(body.into)
        request_id = body.request_id if body.request_id is not None else idempotency_key
        merged = await Linking(kesu).merge(
            duplicate, primary, actor=who.actor, roles=list(who.roles), reason=body.reason,
            request_id=request_id,
        )  # fmt: skip
        return models.Merged(
            duplicate=views.event_applied(
                duplicate, duplicate_number, MERGED_EVENT, merged.duplicate
            ),
            primary=views.event_applied(
                primary, primary_number, DUPLICATE_LINKED_EVENT, merged.primary
            ),
        )

    @app.post(
        "/groups",
        status_code=201,
        response_model=models.Group,
        responses=error_responses(403),
        tags=["groups"],
    )
    async def create_group(
        body: models.NewGroup, kesu: Service, who: Writer, response: Response
    ) -> models.Group:
        """A group complaint (many customers, one cause) with its one handling plan."""
        group = await run_in_threadpool(
            Linking(kesu).create_group,
            body.process, body.plan, actor=who.actor, roles=list(who.roles), title=body.title,
        )  # fmt: skip
        response.headers["Location"] = f"/groups/{group.group_id}"
        return _group_body(group)

    @app.get(
        "/groups/{group_id}",
        response_model=models.Group,
        responses=error_responses(404),
        tags=["groups"],
    )
    async def get_group(group_id: CaseId, kesu: Service, who: Caller) -> models.Group:
        """A group: its handling plan and its cases."""
        return _group_body(await run_in_threadpool(Linking(kesu).group, group_id))

    @step_route(app, "/groups/{group_id}/cases", tag="groups")
    async def add_to_group(
        group_id: CaseId,
        body: models.GroupCase,
        kesu: Service,
        who: Writer,
    ) -> models.EventApplied:
        """Link a case to the group: a ``case.grouped`` step with the group's plan."""
        case_id, number = await resolve(body.case_id)
        result = await Linking(kesu).add_to_group(
            group_id, case_id, actor=who.actor, roles=list(who.roles), request_id=body.request_id
        )
        return views.event_applied(case_id, number, GROUPED_EVENT, result)
