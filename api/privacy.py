"""Customer data protection over HTTP: destruction requests and approvals, retention due,
access records (every unmasked read of a case is recorded here), and the codec endpoint (for
the CLI with a bearer token, and for the Web UI with the console's session; its decode calls
are access records too).

Installed by ``create_app`` when the entry point hands in the database (``PrivacySetup``).
"""

# No ``from __future__ import annotations``: the routes are defined inside a function and use
# the app's dependency aliases, which FastAPI must see as objects, not as names to look up.
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException

from activities.storage import DestructionRow
from process.access import needs_role
from process.compiler import CompiledSpec
from service.cases import Kesu
from service.crypto import EncryptionCodec
from service.pii import may_see_pii
from service.privacy import Privacy, retention_roles
from workflows.case import CaseView

from .auth import Principal
from .codec import WEB_UI_PREFIX, DecodeCall, allow_web_ui, codec_router
from .deps import Caller, CaseId, error_responses


@dataclass(frozen=True)
class PrivacySetup:
    sessions: sessionmaker[Session]
    codec: EncryptionCodec | None = None
    """Serves ``POST /encode`` and ``/decode`` when given."""
    web_ui_origins: Sequence[str] = ()
    """Origins of the Temporal Web UI allowed to call the codec from a browser."""
    decoders: frozenset[str] = frozenset()
    """Roles that may decode payloads: every definition's ``pii_roles``."""


class DestructionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=1000)


class Destruction(BaseModel):
    case_id: str
    status: str
    """``requested``, then ``destroyed``."""
    requested_by: str
    requested_at: datetime
    reason: str | None
    approved_by: str | None
    approved_at: datetime | None
    history_deleted_at: datetime | None


class AccessRecord(BaseModel):
    actor: str
    roles: list[str]
    fields: list[str]
    channel: str
    at: datetime


class DueCase(BaseModel):
    case_id: str
    case_number: str
    process: str
    closed_at: datetime
    due_at: datetime


def _destruction(row: DestructionRow) -> Destruction:
    return Destruction(
        case_id=row.case_id,
        status="destroyed" if row.approved_at else "requested",
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        reason=row.reason,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        history_deleted_at=row.history_deleted_at,
    )


def _privacy(request: Request) -> Privacy:
    kesu: Kesu = request.app.state.kesu
    setup: PrivacySetup = request.app.state.privacy
    return Privacy(setup.sessions, kesu.processes, kesu.client)


def record_read(
    request: Request, view: CaseView, spec: CompiledSpec | None, who: Principal
) -> None:
    """Record an unmasked read of a case's customer data (a no-op without the database, or
    without the case's definition: then everything is masked)."""
    setup: PrivacySetup | None = getattr(request.app.state, "privacy", None)
    if setup is None or spec is None or not may_see_pii(spec.definition, who.roles):
        return
    shown = [name for name in spec.definition.pii_fields if name in view.state.fields]
    _privacy(request).record_unmasked_read(view.state.case_id, who.actor, who.roles, shown, "api")


def _require_officer(who: Principal, roles: Sequence[str]) -> None:
    if set(roles).isdisjoint(who.roles):
        raise HTTPException(403, needs_role(roles, who.actor, who.roles))


def install_privacy(app: FastAPI, setup: PrivacySetup) -> None:
    app.state.privacy = setup

    @app.post(
        "/cases/{case_id}/destruction",
        status_code=202,
        response_model=Destruction,
        responses=error_responses(403, 404, 409),
        tags=["privacy"],
    )
    async def request_destruction(
        case_id: CaseId, request: Request, who: Caller, body: DestructionRequest | None = None
    ) -> Destruction:
        """Ask for a closed case's customer data to be destroyed; another person approves."""
        privacy = _privacy(request)
        reason = body.reason if body else None
        row = await asyncio.to_thread(privacy.request, case_id, who.actor, list(who.roles), reason)
        return _destruction(row)

    @app.post(
        "/cases/{case_id}/destruction/approval",
        response_model=Destruction,
        responses=error_responses(403, 404, 409),
        tags=["privacy"],
    )
    async def approve_destruction(case_id: CaseId, request: Request, who: Caller) -> Destruction:
        """Approve (as another person): the case's data key is destroyed, its pii cleared, its
        Temporal history deleted, and the destruction appended to its audit trail."""
        row = await _privacy(request).approve(case_id, who.actor, list(who.roles))
        return _destruction(row)

    @app.get(
        "/cases/{case_id}/access-log",
        response_model=list[AccessRecord],
        responses=error_responses(403),
        tags=["privacy"],
    )
    async def access_log(case_id: CaseId, request: Request, who: Caller) -> list[AccessRecord]:
        """Every unmasked read of the case's customer data: who, roles, fields, when."""
        privacy = _privacy(request)
        _require_officer(who, await asyncio.to_thread(privacy.officer_roles, case_id))
        rows = await asyncio.to_thread(privacy.access_log, case_id)
        return [AccessRecord(**row.as_dict()) for row in rows]

    @app.get(
        "/retention/due",
        response_model=list[DueCase],
        responses=error_responses(403),
        tags=["privacy"],
    )
    async def retention_due(
        request: Request,
        who: Caller,
        process: str | None = Query(default=None, max_length=100),
    ) -> list[DueCase]:
        """Closed cases past their definition's retention, not destroyed yet."""
        privacy = _privacy(request)
        _require_officer(who, _officer_roles(request))
        due = await asyncio.to_thread(privacy.retention_due, process)
        return [DueCase(**vars(case)) for case in due]

    if setup.codec is not None:
        recorder = Privacy(setup.sessions, {})

        def record_decode(call: DecodeCall) -> None:
            recorder.record_decode(
                call.who.actor, call.who.roles, call.cases, call.payloads, call.channel
            )

        tokens, decoders = app.state.tokens, setup.decoders
        app.include_router(codec_router(setup.codec, tokens, decoders, record_decode))
        web_ui = codec_router(
            setup.codec, tokens, decoders, record_decode, session_origins=setup.web_ui_origins
        )
        app.include_router(web_ui, prefix=WEB_UI_PREFIX)
        allow_web_ui(app, setup.web_ui_origins)


def _officer_roles(request: Request) -> list[str]:
    kesu: Kesu = request.app.state.kesu
    # Cases due may be on any published version: each version's officers see the list.
    specs = [spec for name in kesu.processes for spec in kesu.versions(name)]
    return sorted(
        {role for spec in specs or kesu.processes.values() for role in retention_roles(spec)}
    )
