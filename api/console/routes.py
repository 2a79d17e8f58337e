"""The console's pages: cases, a case with its actions, reports, processes; login and logout.

Pages are rendered on the server over the same ``Kesu`` operations and views the JSON API uses,
so masking, role checks and refusals are the API's own. Forms post back with the session's
CSRF token; a refused event is shown with its reason and the status the API would answer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from api import views
from api.errors import STATUS
from process.events import WARNING_EVENT_PREFIX
from process.state import Step
from service import diagrams
from service.assignments import cases_assigned_to
from service.case_numbers import CaseNumbers
from service.cases import CaseFilter, CaseListing, Kesu, KesuError

from . import charts, reports
from .forms import event_data, event_forms, form_day
from .i18n import words
from .session import Session, choose_language, form_data, sign_in, sign_out

PAGE_SIZE = 50
SOON_SECONDS = 4 * 3600

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _session(request: Request) -> Session:
    state = request.app.state
    return Session(request, state.tokens, state.console_secret)


def _render(
    request: Request, session: Session, page: str, status: int = 200, **context: Any
) -> HTMLResponse:
    context.update(
        t=words(session.language), lang=session.language, who=session.principal,
        csrf=session.csrf, now=datetime.now(UTC), charts=charts, page=page, when=when,
    )  # fmt: skip
    return templates.TemplateResponse(request, f"{page}.html", context, status_code=status)


def when(moment: datetime | None, zone: str = "UTC") -> str:
    """A moment in the process's own zone (its calendar's), as people there read it."""
    if moment is None:
        return "–"
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


async def _resolve(request: Request, reference: str) -> tuple[str, str | None]:
    """(case id, case number) of a case id or number; ids pass through without the records."""
    numbers: CaseNumbers | None = request.app.state.case_numbers
    if numbers is None:
        return reference, None
    return await run_in_threadpool(numbers.resolve, reference)


def _numbers(request: Request, case_ids: list[str]) -> dict[str, str]:
    numbers: CaseNumbers | None = request.app.state.case_numbers
    return numbers.numbers(case_ids) if numbers is not None else {}


def _assigned(request: Request, assignee: str, finished: bool) -> tuple[str, ...] | None:
    """The cases of ``assignee`` (责任人) from the records; None: no filter by assignee."""
    records: sessionmaker[DbSession] | None = request.app.state.records
    if not assignee or records is None:
        return None
    found = cases_assigned_to(records, assignee, include_closed=finished)
    return tuple(found) if found is not None else None


def _warnings(steps: list[Step]) -> dict[str, list[datetime]]:
    """When each clock warned: its ``deadline.warning:<clock>`` steps."""
    warned: dict[str, list[datetime]] = {}
    for step in steps:
        if step.event.startswith(WARNING_EVENT_PREFIX):
            warned.setdefault(step.event.removeprefix(WARNING_EVENT_PREFIX), []).append(step.at)
    return warned


def _to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


def console_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("")
    async def home() -> Response:
        return RedirectResponse("/console/cases", status_code=303)

    @router.get("/login")
    async def login_page(request: Request) -> Response:
        return _render(request, _session(request), "login")

    @router.post("/login")
    async def login(request: Request) -> Response:
        token = (await form_data(request)).get("token", "").strip()
        if not token or request.app.state.tokens.principal(token) is None:
            session = _session(request)
            return _render(
                request, session, "login", 401, error=words(session.language)["bad_token"]
            )
        response = RedirectResponse("/console/cases", status_code=303)
        sign_in(response, request, token)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        response = _to_login()
        sign_out(response)
        return response

    @router.get("/language/{language}")
    async def language(request: Request, language: str, back: str = "/console/cases") -> Response:
        target = back if back.startswith("/console") and "//" not in back else "/console/cases"
        response = RedirectResponse(target, status_code=303)
        choose_language(response, language)
        return response

    @router.get("/cases")
    async def cases(
        request: Request,
        process: str = "",
        stage: str = "",
        priority: str = "",
        overdue: bool = False,
        finished: bool = False,
        opened_from: str = "",
        opened_until: str = "",
        assignee: str = "",
        page: str = "",
    ) -> Response:
        session = _session(request)
        if session.principal is None:
            return _to_login()
        kesu: Kesu = request.app.state.kesu
        assigned = await run_in_threadpool(_assigned, request, assignee.strip(), finished)
        where = CaseFilter(
            process=process or None, stage=stage or None, priority=priority or None,
            overdue=overdue, include_finished=finished,
            opened_from=form_day(opened_from), opened_until=form_day(opened_until, end=True),
            case_ids=assigned,
        )  # fmt: skip
        query = {k: v for k, v in request.query_params.items() if k != "page"}
        error: KesuError | None = None
        rows: list[CaseListing] = []
        next_page = None
        try:
            listed = await kesu.list_page(
                where, page_size=PAGE_SIZE, page_token=views.decode_page_token(page)
            )
            far = datetime.max.replace(tzinfo=UTC)
            rows = sorted(listed.cases, key=lambda row: row.next_deadline or far)
            token = views.encode_page_token(listed.next_page_token)
            next_page = f"?{urlencode({**query, 'page': token})}" if token else None
        except KesuError as refused:
            error = refused
        return _render(
            request, session, "cases", 200 if error is None else STATUS[error.kind],
            rows=rows, error=error, where=where, next_page=next_page, specs=kesu.processes,
            stages=sorted({name for s in kesu.processes.values() for name in s.definition.stages}),
            soon=SOON_SECONDS, first_page="?" + urlencode(query) if page else None,
            zones={name: spec.time_zone for name, spec in kesu.processes.items()},
            numbers=await run_in_threadpool(_numbers, request, [row.case_id for row in rows]),
            opened=(opened_from, opened_until), assignee=assignee,
        )  # fmt: skip

    @router.get("/cases/{reference}")
    async def case(request: Request, reference: str) -> Response:
        """A case by its id or its number (``CP-2026-000123``)."""
        session = _session(request)
        if session.principal is None:
            return _to_login()
        return await _case_page(request, session, reference)

    @router.post("/cases/{case_id}/events/{event}")
    async def send_event(request: Request, case_id: str, event: str) -> Response:
        session = _session(request)
        form = await form_data(request)
        if session.principal is None or not session.csrf_ok(form.get("csrf")):
            return _to_login()
        kesu: Kesu = request.app.state.kesu
        who = session.principal
        try:
            view = await kesu.get_case(case_id)
            own = kesu.definition_of(view.state) or kesu.spec(view.state.process)
            definition = own.definition
            transition = definition.stages[view.state.stage].on.get(event)
            data = event_data(definition, transition, form) if transition else {}
            await kesu.send_event(
                case_id, event, actor=who.actor, roles=list(who.roles), data=data,
                event_id=form.get("event_id") or None,
            )  # fmt: skip
        except KesuError as refused:
            return await _case_page(request, session, case_id, refused=refused)
        return RedirectResponse(f"/console/cases/{case_id}?done={event}", status_code=303)

    @router.get("/reports")
    async def report_page(request: Request) -> Response:
        session = _session(request)
        if session.principal is None:
            return _to_login()
        return _render(request, session, "reports", **reports.context(request))

    @router.get("/reports.csv")
    async def report_csv(request: Request) -> Response:
        if _session(request).principal is None:
            return _to_login()
        return reports.csv_response(request)

    @router.get("/definitions")
    async def definitions(request: Request) -> Response:
        session = _session(request)
        if session.principal is None:
            return _to_login()
        kesu: Kesu = request.app.state.kesu
        # Every published version, newest first: open cases may still run on an older one.
        published = {
            name: [
                (spec, Markup(diagrams.process_diagram(spec, "svg")))
                for spec in reversed(kesu.versions(name) or [current])
            ]
            for name, current in sorted(kesu.processes.items())
        }
        return _render(request, session, "definitions", published=published)

    return router


async def _case_page(
    request: Request, session: Session, case_id: str, refused: KesuError | None = None
) -> HTMLResponse:
    kesu: Kesu = request.app.state.kesu
    assert session.principal is not None
    roles = session.principal.roles
    case_id, number = await _resolve(request, case_id)
    try:
        view = await kesu.get_case(case_id)
    except KesuError as missing:
        return _render(
            request, session, "missing", STATUS[missing.kind], case_id=case_id, error=str(missing)
        )
    # The case's own version; without it, values stay masked (case_body) and no forms show.
    own = kesu.definition_of(view.state)
    spec = own or kesu.spec(view.state.process)
    body = views.case_body(view, own, roles)
    forms = (
        event_forms(spec.definition, view.state.stage, view.allowed_events, roles) if own else []
    )
    return _render(
        request, session, "case", STATUS[refused.kind] if refused else 200,
        case=body, number=number, definition=spec.definition, forms=forms, refused=refused,
        zone=spec.time_zone,
        done=request.query_params.get("done"), event_id=uuid.uuid4().hex,
        path=[step.to_stage for step in view.state.steps],
        warned=_warnings(view.state.steps),
        diagram=Markup(diagrams.case_diagram(spec, view.state, "svg")),
    )  # fmt: skip
