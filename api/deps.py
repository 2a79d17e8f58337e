"""What the API's routes depend on: the service, the caller (from the bearer token alone), the
list filters, and the shapes of path and header parameters; shared by every router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.types import DecoratedCallable
from pydantic import AwareDatetime
from starlette.exceptions import HTTPException

from process.access import needs_role
from service.cases import CaseFilter, Kesu, KesuError, RefusalKind

from . import models
from .access import TokenSource
from .auth import Principal

_bearer = HTTPBearer(auto_error=False, description="a token from the API's token file")


def _kesu(request: Request) -> Kesu:
    kesu: Kesu = request.app.state.kesu
    return kesu


def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The token's actor and roles: the only source of who acts, never the request body."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "send 'Authorization: Bearer <token>'", challenge)
    tokens: TokenSource = request.app.state.tokens
    principal = tokens.principal(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "unknown token", challenge)
    return principal


def _writer(who: Annotated[Principal, Depends(_caller)]) -> Principal:
    """A caller that may change cases: a token with only read-only roles is refused here."""
    if not who.acting_roles:
        held = ", ".join(who.roles) or "no role"
        raise KesuError(
            f"{who.actor!r} acts as {held}: read-only, it cannot change cases",
            RefusalKind.FORBIDDEN,
        )
    return Principal(who.actor, tuple(who.acting_roles))


def require_role(who: Principal, allowed: frozenset[str] | set[str], doing: str) -> None:
    """Refuse (403) unless ``who`` holds one of ``allowed``, naming what was refused, the roles
    that would do, and the roles the caller acts in."""
    if allowed.intersection(who.roles):
        return
    reason = needs_role(sorted(allowed), who.actor, who.roles)
    raise KesuError(f"{doing}: {reason}", RefusalKind.FORBIDDEN)


# Module-level aliases: FastAPI resolves these annotations in the module's namespace.
def case_filter(
    process: Annotated[str | None, Query(max_length=models.MAX_NAME)] = None,
    stage: Annotated[str | None, Query(max_length=models.MAX_NAME)] = None,
    priority: Annotated[str | None, Query(max_length=models.MAX_NAME)] = None,
    overdue: bool = False,
    finished: Annotated[bool, Query(description="include finished cases")] = False,
    opened_from: Annotated[
        AwareDatetime | None, Query(description="opened at or after (RFC 3339)")
    ] = None,
    opened_until: Annotated[AwareDatetime | None, Query(description="opened before")] = None,
) -> CaseFilter:
    return CaseFilter(
        process=process, stage=stage, priority=priority, overdue=overdue,
        include_finished=finished, opened_from=opened_from, opened_until=opened_until,
    )  # fmt: skip


Service = Annotated[Kesu, Depends(_kesu)]
Caller = Annotated[Principal, Depends(_caller)]
Writer = Annotated[Principal, Depends(_writer)]
CaseId = Annotated[
    str, Path(min_length=1, max_length=300, pattern=r"^\S+$", examples=["complaint-crm-42"])
]
EventName = Annotated[
    str, Path(min_length=1, max_length=models.MAX_NAME, pattern=r"^\S+$", examples=["accept"])
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        pattern=models.KEY_PATTERN,
        description="Your id for this request: sent again, it changes nothing.",
    ),
]


ProcessName = Annotated[
    str, Path(min_length=1, max_length=models.MAX_NAME, pattern=r"^\S+$", examples=["complaint"])
]
DiagramFormat = Annotated[
    Literal["mermaid", "svg", "html"], Query(description="mermaid text, SVG, or an HTML page")
]


def step_route(
    app: FastAPI, path: str, tag: str = "cases"
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """``POST path`` for a route that records one step on a case: it answers the step
    (``EventApplied``) and may be refused as forbidden, not found or in conflict."""
    return app.post(
        path,
        response_model=models.EventApplied,
        responses=error_responses(403, 404, 409),
        tags=[tag],
    )


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route documents: the common ones and ``codes``."""
    return {code: {"model": models.Error} for code in (400, 401, 413, 422, 503, *codes)}
