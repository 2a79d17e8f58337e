"""What the API offers besides cases: offline docs, metrics, and strict query strings.

- ``/docs`` is Swagger UI served from the ``swagger-ui-bundle`` package, so it works on a
  machine without internet access (FastAPI's default loads it from a CDN).
- ``/metrics`` is kesu's Prometheus registry (``activities.metrics``) for this process, and,
  with the records database, the outbox gauges (``kesu_outbox_messages`` by status,
  ``kesu_database_up``), queried at most once every ``OUTBOX_METRICS_SECONDS``.
- A query parameter no route declares (``?assignee=``) is refused with 422 naming it, instead
  of being ignored and answering as if it had not been sent.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from swagger_ui_bundle import swagger_ui_path

from activities.metrics import CachedCollector, OutboxCollector
from service.cases import KesuError

ASSETS = "/docs/assets"
OUTBOX_METRICS_SECONDS = 10.0


def operation_id(route: APIRoute) -> str:
    """The handler's name (``send_event``), not FastAPI's ``send_event_cases__case_id__...``."""
    return route.name


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names


async def refuse_unknown_query(request: Request) -> None:
    """An app-wide dependency: every query parameter must be one the route declares."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return  # the web console's pages and forms are not the documented API
    declared = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        names = ", ".join(repr(name) for name in unknown)
        raise KesuError(f"unknown query parameter {names} (known here: {known})")


def _outbox_registry(records: sessionmaker[Session] | None) -> CollectorRegistry | None:
    """The API's own registry for the outbox gauges: apart from the process-wide one, where a
    worker in this process may have registered its own (uncached) collector."""
    if records is None:
        return None
    registry = CollectorRegistry(auto_describe=False)  # registering must not query
    registry.register(CachedCollector(OutboxCollector(records), OUTBOX_METRICS_SECONDS))
    return registry


def install(app: FastAPI, records: sessionmaker[Session] | None = None) -> None:
    outbox = _outbox_registry(records)
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body = generate_latest(REGISTRY)
        if outbox is not None:  # a database query (now and then): not on the event loop
            body += await run_in_threadpool(generate_latest, outbox)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
