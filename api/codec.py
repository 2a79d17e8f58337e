"""Temporal's remote codec endpoint over kesu's payload codec: ``POST /encode`` and
``POST /decode`` take and answer ``{"payloads": [...]}`` (Temporal's JSON form of Payloads), so
that the stock ``temporal`` CLI (``--codec-endpoint``) and the Web UI (its codec setting) show
and send kesu's encrypted payloads.

Two doors to the same codec:

- ``/encode``, ``/decode``: a bearer token of the API's token file (the CLI's ``--codec-auth``).
- ``/console/codec/encode``, ``/console/codec/decode``: for the Web UI, which cannot send a
  bearer token. It sends the console's session cookie instead ("include cross-origin
  credentials"); the cookie lives under ``/console`` only, so this door is there too. The
  cookie is a credential the browser adds by itself, so a call with it must come from an
  allowed Web UI origin (``Origin``), or it is refused: another page of the same site (a
  SameSite cookie does not tell ports apart) cannot decode through a signed-in browser.

Either way, decoding (reading customer data) only for a role some definition lists in
``pii_roles``, and every decode call is reported to ``on_decode`` (the access records). CORS
answers only on these paths, with the exact allowed origin and credentials, never ``*``.
"""

# No ``from __future__ import annotations``: the routes are defined inside a function, and
# FastAPI must see their dependency annotations as objects.
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads

from process.access import needs_role
from service.crypto import ENCODING, EncryptionCodec

from .access import TokenSource
from .auth import Principal
from .console.session import SESSION_COOKIE

CODEC_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]
WEB_UI_PREFIX = "/console/codec"
"""Where the Web UI's codec setting points (``http://<api>/console/codec``)."""
CODEC_PATHS = frozenset(
    f"{prefix}/{operation}" for prefix in ("", WEB_UI_PREFIX) for operation in ("encode", "decode")
)
MAX_CASES_NAMED = 20
"""At most this many case ids are read from one decode call's payloads for its record."""

_bearer = HTTPBearer(auto_error=False, description="a token from the API's token file")

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"payloads": {"type": "array"}}},
                "example": {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}}]},
            }
        },
    }
}

# The Web UI asks for ``?preserveStorageRefs=true``; kesu's payloads hold no external storage
# references, so it changes nothing, but it must not be refused as an unknown parameter.
StorageRefs = Annotated[
    bool,
    Query(
        alias="preserveStorageRefs",
        description="sent by the Temporal Web UI; kesu's payloads hold no storage references",
    ),
]


@dataclass(frozen=True)
class DecodeCall:
    """One decode: who, how many payloads, the cases they name, and through which door."""

    who: Principal
    payloads: int
    cases: tuple[str, ...]
    """Case ids the decoded payloads name (workflow inputs and stored steps carry theirs);
    empty when none does: a call does not say which workflow it is for."""
    channel: str
    """``codec`` (a bearer token, e.g. the CLI) or ``web-ui`` (a console session)."""
    namespace: str | None


def codec_router(
    codec: EncryptionCodec,
    tokens: TokenSource,
    decoders: Iterable[str],
    on_decode: Callable[[DecodeCall], None] | None = None,
    *,
    session_origins: Sequence[str] | None = None,
) -> APIRouter:
    """The two routes; ``decoders`` are the roles that may decode (see customer data).

    With ``session_origins`` (the Web UI's door) a console session cookie is accepted too,
    from those origins only."""
    allowed = frozenset(decoders)
    router = APIRouter(tags=["codec"])
    channel = "codec" if session_origins is None else "web-ui"
    suffix = "" if session_origins is None else "_for_web_ui"  # one operation id per door

    def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is not None:
            principal = tokens.principal(credentials.credentials)
            if principal is None:
                raise HTTPException(401, "unknown token", challenge)
            return principal
        if session_origins is None:
            raise HTTPException(401, "send 'Authorization: Bearer <token>'", challenge)
        return _session_caller(request, tokens, session_origins)

    Caller = Annotated[Principal, Depends(caller)]

    @router.post("/encode", openapi_extra=_BODY, name=f"encode{suffix}")
    async def encode(request: Request, who: Caller, refs: StorageRefs = False) -> dict[str, Any]:
        """Encrypt payloads (what the CLI sends to a case, e.g. an update's arguments)."""
        return _as_json(await codec.encode(_payloads(await request.body())))

    @router.post("/decode", openapi_extra=_BODY, name=f"decode{suffix}")
    async def decode(request: Request, who: Caller, refs: StorageRefs = False) -> dict[str, Any]:
        """Decrypt payloads for a caller allowed to see customer data."""
        if allowed.isdisjoint(who.roles):
            refusal = needs_role(sorted(allowed), who.actor, who.roles)
            raise HTTPException(403, f"decoding shows customer data: {refusal}")
        payloads = _payloads(await request.body())
        try:  # readable payloads (search attributes, the CLI's own) are shown as they are
            decoded = [
                codec.decode_one(payload)
                if payload.metadata.get("encoding") == ENCODING
                else payload
                for payload in payloads
            ]
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        if on_decode is not None:
            call = DecodeCall(
                who=who,
                payloads=len(decoded),
                cases=cases_named(decoded),
                channel=channel,
                namespace=request.headers.get("x-namespace"),
            )
            await run_in_threadpool(on_decode, call)  # recorded before anything is shown
        return _as_json(decoded)

    return router


def _session_caller(request: Request, tokens: TokenSource, origins: Sequence[str]) -> Principal:
    """The console session's principal, for a call from an allowed Web UI origin."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise HTTPException(
            401,
            "sign in to kesu's console (/console) in this browser, with a token of a role that "
            "may see customer data, and let the Web UI include cross-origin credentials",
        )
    origin = request.headers.get("origin")
    if origin not in origins:
        raise HTTPException(
            403,
            f"a console session decodes only for the Web UI at {', '.join(origins) or '(none)'}"
            f", not for {origin or 'a request without an Origin'}",
        )
    principal = tokens.principal(token)
    if principal is None:
        raise HTTPException(401, "the console session's token is no longer valid: sign in again")
    return principal


def cases_named(payloads: Sequence[Any]) -> tuple[str, ...]:
    """The ``case_id`` each decoded JSON object payload names, in order, without repeats."""
    found: dict[str, None] = {}
    for payload in payloads:
        if payload.metadata.get("encoding") != b"json/plain":
            continue
        try:
            value = json.loads(payload.data)
        except ValueError:
            continue
        case_id = value.get("case_id") if isinstance(value, dict) else None
        if isinstance(case_id, str) and 0 < len(case_id) <= 200:
            found[case_id] = None
            if len(found) == MAX_CASES_NAMED:
                break
    return tuple(found)


def _payloads(body: bytes) -> Sequence[Any]:
    # Read whatever the content type says: the Go CLI and the Web UI do not agree on one.
    try:
        return list(json_format.Parse(body, Payloads()).payloads)
    except (json_format.ParseError, ValueError) as error:
        raise HTTPException(422, f"not Temporal's JSON form of payloads: {error}") from None


def _as_json(payloads: Sequence[Any]) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=payloads))
    result.setdefault("payloads", [])
    return result


class _CodecCors:
    """CORS for the codec's paths only: the rest of the API (and the console's pages) stays
    closed to scripts of other origins, even those the codec lets in."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=CODEC_HEADERS,
            allow_credentials=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in CODEC_PATHS:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def allow_web_ui(app: FastAPI, origins: Sequence[str]) -> None:
    """Let the Temporal Web UI at ``origins`` call the codec from the browser, with
    credentials: each origin exactly (``*`` with credentials would let any site decode)."""
    if "*" in origins:
        raise ValueError("the codec's Web UI origins must be named: '*' is refused")
    app.add_middleware(_CodecCors, origins=origins)


def codec_app(
    codec: EncryptionCodec, tokens: TokenSource, decoders: Iterable[str], origins: Sequence[str]
) -> FastAPI:
    """The codec endpoint on its own (``api_server.py codec``): bearer tokens only, since the
    console (and its session) is not served here."""
    app = FastAPI(title="kesu payload codec", version="1")
    app.include_router(codec_router(codec, tokens, decoders))
    allow_web_ui(app, origins)
    return app
