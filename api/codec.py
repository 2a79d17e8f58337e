"""Temporal's remote codec endpoint over kesu's payload codec: ``POST /encode`` and
``POST /decode`` take and answer ``{"payloads": [...]}`` (Temporal's JSON form of Payloads), so
that the stock ``temporal`` CLI (``--codec-endpoint``) and the Web UI (its codec setting) show
and send kesu's encrypted payloads.

Every call needs a bearer token of the API's token file; decoding (reading customer data)
only for a token with a role some definition lists in ``pii_roles``. CORS lets the Web UI call
it from the browser.
"""

# No ``from __future__ import annotations``: the routes are defined inside a function, and
# FastAPI must see their dependency annotations as objects.
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from starlette.exceptions import HTTPException
from temporalio.api.common.v1 import Payloads

from service.crypto import ENCODING, EncryptionCodec

from .access import TokenSource
from .auth import Principal

CODEC_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]

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


def codec_router(
    codec: EncryptionCodec,
    tokens: TokenSource,
    decoders: Iterable[str],
    on_decode: Callable[[Principal, int], None] | None = None,
) -> APIRouter:
    """The two routes; ``decoders`` are the roles that may decode (see customer data)."""
    allowed = frozenset(decoders)
    router = APIRouter(tags=["codec"])

    def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise HTTPException(401, "send 'Authorization: Bearer <token>'", challenge)
        principal = tokens.principal(credentials.credentials)
        if principal is None:
            raise HTTPException(401, "unknown token", challenge)
        return principal

    Caller = Annotated[Principal, Depends(caller)]

    @router.post("/encode", openapi_extra=_BODY)
    async def encode(request: Request, who: Caller) -> dict[str, Any]:
        """Encrypt payloads (what the CLI sends to a case, e.g. an update's arguments)."""
        return _as_json(await codec.encode(_payloads(await request.body())))

    @router.post("/decode", openapi_extra=_BODY)
    async def decode(request: Request, who: Caller) -> dict[str, Any]:
        """Decrypt payloads for a caller allowed to see customer data."""
        if allowed.isdisjoint(who.roles):
            raise HTTPException(
                403, f"decoding shows customer data: needs role {' or '.join(sorted(allowed))}"
            )
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
            on_decode(who, len(decoded))
        return _as_json(decoded)

    return router


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


def allow_web_ui(app: FastAPI, origins: Sequence[str]) -> None:
    """Let the Temporal Web UI at ``origins`` call the codec from the browser."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["POST", "OPTIONS"],
        allow_headers=CODEC_HEADERS,
        allow_credentials=True,
    )


def codec_app(
    codec: EncryptionCodec, tokens: TokenSource, decoders: Iterable[str], origins: Sequence[str]
) -> FastAPI:
    """The codec endpoint on its own (``api_server.py codec``)."""
    app = FastAPI(title="kesu payload codec", version="1")
    app.include_router(codec_router(codec, tokens, decoders))
    allow_web_ui(app, origins)
    return app
