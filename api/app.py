"""The HTTP API: ``create_app(kesu_factory, tokens)``.

Every route is a thin layer over ``service.cases.Kesu``, the same operations ``starter.py``
and the Python API call, so the three never disagree. Who calls comes only from the bearer
token: the actor and roles sent to a case are the token's, never the request's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from process.coverage import calendars_in_use, ending_soon
from process.diagram_page import MEDIA_TYPES
from process.events import REASSIGNED_EVENT, REPAIRED_EVENT
from service import diagrams
from service.case_numbers import CaseNumbers
from service.cases import CaseFilter, Kesu, KesuError, RefusalKind

from . import models, ops, overdue, views
from .access import RequireToken, TokenSource
from .console import console_router, new_secret
from .deps import (
    Caller,
    CaseId,
    DiagramFormat,
    EventName,
    IdempotencyKey,
    ProcessName,
    Service,
    Writer,
    case_filter,
    error_responses,
    require_role,
    step_route,
)
from .errors import BodyLimit, install_error_handlers
from .linking import duplicates_of, groups_of, install_linking
from .privacy import PrivacySetup, install_privacy, record_read

KesuFactory = Callable[[], AbstractAsyncContextManager[Kesu]]
"""Opens a ``Kesu`` when the app starts and closes it when the app stops."""

ADMIN_ROLE = "admin"
"""The role that may move running cases to another definition version."""
DEFAULT_BODY_LIMIT = 64 * 1024
MAX_PAGE_SIZE = 200
REASSIGN_ROLES = frozenset({"supervisor", "manager"})
"""Who may move a case to another person over the API (``starter.py reassign`` is an
operator's tool and needs no role)."""


_DIAGRAM_CONTENT: dict[str, Any] = {
    "description": "the diagram",
    "content": {
        media.split(";")[0]: {"schema": {"type": "string"}} for media in MEDIA_TYPES.values()
    },
}


def _diagram(text: str, form: str) -> Response:
    return Response(text, media_type=MEDIA_TYPES[form])


def create_app(
    kesu_factory: KesuFactory,
    tokens: TokenSource,
    *,
    body_limit: int = DEFAULT_BODY_LIMIT,
    records: sessionmaker[Session] | None = None,
    privacy: PrivacySetup | None = None,
) -> FastAPI:
    """The API, with the web console at ``/console``; ``records`` (the case database) feeds
    the console's reports (which say so when it is missing), case numbers beside case ids
    and the database check of ``/healthz``."""
    numbers = CaseNumbers(records) if records is not None else None

    async def resolve(reference: str) -> tuple[str, str | None]:
        """A case id or number -> (case id, case number)."""
        if numbers is None:
            return reference, None
        return await run_in_threadpool(numbers.resolve, reference)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with kesu_factory() as kesu:
            app.state.kesu = kesu
            yield

    app = FastAPI(
        title="kesu 客诉",
        version="1",
        summary="Open complaint and service cases, send them events, read and list them.",
        lifespan=lifespan,
        docs_url=None,  # ops.install serves /docs from local assets
        redoc_url=None,
        generate_unique_id_function=ops.operation_id,
        dependencies=[Depends(ops.refuse_unknown_query)],
    )
    app.state.tokens = tokens
    app.state.records = records
    app.state.case_numbers = numbers
    app.state.console_secret = new_secret()
    app.include_router(console_router())
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=body_limit)
    app.add_middleware(RequireToken, tokens=lambda: app.state.tokens)
    ops.install(app, records)
    overdue.install(app, records)

    @app.post(
        "/cases",
        status_code=201,
        response_model=models.Started,
        responses={
            200: {"model": models.Started, "description": "already open"},
            **error_responses(403),
        },
        tags=["cases"],
    )
    async def start_case(
        body: models.StartCase,
        kesu: Service,
        who: Writer,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> models.Started:
        """Open a case; 201, or 200 when the same external id / Idempotency-Key opened it."""
        key = _one_key("external_id", body.external_id, idempotency_key)
        started = await kesu.start_case(
            body.process, body.fields, key=key, actor=who.actor, roles=list(who.roles), stored=True
        )
        response.status_code = 201 if started.created else 200
        response.headers["Location"] = f"/cases/{started.case_id}"
        _, number = await resolve(started.case_id)
        duplicates, note = await duplicates_of(kesu, started.case_id)
        return models.Started(
            case_id=started.case_id, case_number=number, created=started.created,
            duplicates=duplicates, duplicates_note=note,
        )  # fmt: skip

    @step_route(app, "/cases/{case_id}/events/{event}")
    async def send_event(
        case_id: CaseId,
        event: EventName,
        kesu: Service,
        who: Writer,
        body: models.SendEvent | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> models.EventApplied:
        """Send an event (checked against the caller's roles); answers the new stage."""
        body = body or models.SendEvent()
        case_id, number = await resolve(case_id)
        result = await kesu.send_event(
            case_id,
            event,
            actor=who.actor,
            roles=list(who.roles),
            data=body.data,
            event_id=_one_key("event_id", body.event_id, idempotency_key),
        )
        if number is None:  # the opening step is stored by now: its number is known
            _, number = await resolve(case_id)
        return views.event_applied(case_id, number, event, result)

    @step_route(app, "/cases/{case_id}/reassign")
    async def reassign_case(
        case_id: CaseId,
        body: models.Reassign,
        kesu: Service,
        who: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> models.EventApplied:
        """Move an open case to another responsible person (a supervisor's or manager's call);
        recorded in the case's timeline as a ``case.reassigned`` step."""
        require_role(who, REASSIGN_ROLES, f"reassigning case {case_id}")
        case_id, number = await resolve(case_id)
        result = await kesu.reassign_case(
            case_id,
            body.from_assignee,
            body.to_assignee,
            actor=who.actor,
            reason=body.reason,
            request_id=_one_key("request_id", body.request_id, idempotency_key),
            roles=list(who.roles),
            data=body.data,
            justification=body.justification,
        )
        return views.event_applied(case_id, number, REASSIGNED_EVENT, result)

    @step_route(app, "/cases/{case_id}/repair")
    async def repair_case(
        case_id: CaseId,
        body: models.Repair,
        kesu: Service,
        who: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> models.EventApplied:
        """Retry the step a halted case stopped on, once its cause is fixed (admin role);
        recorded as a ``case.repaired`` step. Still refused: 409 with the reason."""
        require_role(who, {ADMIN_ROLE}, f"repairing case {case_id}")
        case_id, number = await resolve(case_id)
        result = await kesu.repair_case(
            case_id,
            body.reason,
            actor=who.actor,
            role=ADMIN_ROLE,
            request_id=_one_key("request_id", body.request_id, idempotency_key),
        )
        return views.event_applied(case_id, number, REPAIRED_EVENT, result)

    @app.get(
        "/cases/{case_id}",
        response_model=models.Case,
        responses=error_responses(404),
        tags=["cases"],
    )
    async def get_case(
        case_id: CaseId, kesu: Service, who: Caller, request: Request
    ) -> models.Case:
        """Stage, fields (customer data masked unless a role may see it), clocks, timeline.

        ``case_id`` may also be the case number (``CP-2026-000123``)."""
        case_id, number = await resolve(case_id)
        view = await kesu.get_case(case_id)
        spec = kesu.definition_of(view.state)
        await asyncio.to_thread(record_read, request, view, spec, who)  # unmasked: recorded
        body = views.case_body(view, spec, who.roles)
        body.case_number = number
        return body

    @app.get("/cases", response_model=models.CaseList, responses=error_responses(), tags=["cases"])
    async def list_cases(
        kesu: Service,
        who: Caller,
        where: Annotated[CaseFilter, Depends(case_filter)],
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        page_token: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> models.CaseList:
        """Cases by search attributes, newest first, a page at a time."""
        page = await kesu.list_page(
            where, page_size=page_size, page_token=views.decode_page_token(page_token)
        )
        rows = [views.case_row(item) for item in page.cases]
        if numbers is not None:
            found = await run_in_threadpool(numbers.numbers, [row.case_id for row in rows])
            for row in rows:
                row.case_number = found.get(row.case_id)
        if kesu.records is not None:
            groups = await run_in_threadpool(groups_of, kesu, [row.case_id for row in rows])
            for row in rows:
                row.group = groups.get(row.case_id)
        return models.CaseList(
            cases=rows,
            next_page_token=views.encode_page_token(page.next_page_token),
        )

    @app.get(
        "/definitions",
        response_model=list[models.Definition],
        responses=error_responses(),
        tags=["definitions"],
    )
    async def definitions(kesu: Service, who: Caller) -> list[models.Definition]:
        """The processes this service runs: fields, stages, events and the roles they need."""
        return [views.definition_body(spec) for spec in kesu.processes.values()]

    diagram_route: dict[str, Any] = {
        "response_class": Response,
        "responses": {200: _DIAGRAM_CONTENT, **error_responses(404)},
    }

    @app.get("/processes/{process}/diagram", tags=["definitions"], **diagram_route)
    async def process_diagram(
        process: ProcessName,
        kesu: Service,
        who: Caller,
        format: DiagramFormat = "html",
        version: Annotated[int | None, Query(ge=1, description="a published version")] = None,
    ) -> Response:
        """The process drawn: stages, events with roles and conditions, timeouts, deadlines."""
        spec = kesu.spec(process)
        if version is not None and version != spec.version:
            spec = diagrams.pick_version(process, version, kesu.versions(process))
        return _diagram(diagrams.process_diagram(spec, format), format)

    @app.get("/cases/{case_id}/diagram", tags=["cases"], **diagram_route)
    async def case_diagram(
        case_id: CaseId, kesu: Service, who: Caller, format: DiagramFormat = "html"
    ) -> Response:
        """The case's process with its current stage and the moves it took highlighted."""
        state = (await kesu.get_case(case_id)).state
        spec = kesu.definition_of(state) or kesu.spec(state.process)
        return _diagram(diagrams.case_diagram(spec, state, format), format)

    @app.post(
        "/processes/{process}/upgrade",
        response_model=models.UpgradeResult,
        responses=error_responses(403, 404, 409),
        tags=["definitions"],
    )
    async def upgrade(
        process: Annotated[str, Path(min_length=1, max_length=models.MAX_NAME)],
        body: models.UpgradeRequest,
        kesu: Service,
        who: Caller,
    ) -> models.UpgradeResult:
        """Move open cases to a newer published version (admin role); a plan first."""
        require_role(who, {ADMIN_ROLE}, f"upgrading {process} cases")
        plan = await kesu.upgrade(
            process, body.from_version, body.to_version, body.map,
            field_map=body.field_map, dry_run=body.dry_run, actor=who.actor,
        )  # fmt: skip
        return views.upgrade_body(plan)

    @app.get("/healthz", response_model=models.Health, responses={503: {"model": models.Error}})
    async def healthz(kesu: Service) -> models.Health:
        """200 when Temporal and the records database answer and a worker polls the task queue;
        503 naming what is missing otherwise. No token needed."""
        found = await kesu.health()
        if numbers is not None and (problem := await run_in_threadpool(numbers.problem)):
            raise KesuError(problem, RefusalKind.UNAVAILABLE)
        database = "ok" if numbers is not None else found.database
        in_use = calendars_in_use(kesu.processes.values())
        warnings = ending_soon(in_use.values(), datetime.now(UTC).date())
        return models.Health(
            status="ok",
            processes=len(kesu.processes),
            workers=found.workers,
            database=database,
            warnings=warnings,
        )

    install_linking(app, resolve)
    if privacy is not None:
        install_privacy(app, privacy)
    return app


def _one_key(name: str, in_body: str | None, in_header: str | None) -> str | None:
    if in_body is not None and in_header is not None and in_body != in_header:
        raise KesuError(f"{name} and the Idempotency-Key header differ: send one, or the same")
    return in_body if in_body is not None else in_header
