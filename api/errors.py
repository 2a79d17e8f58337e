"""Every refusal as JSON ``{"error": ..., "detail": ...}`` with a 4xx status, and the body limit.

A user's mistake never reaches the client as a stack trace or a 500: service-layer refusals
carry their kind (``KesuError.kind``), request-shape problems come from FastAPI's validation,
and anything unexpected is logged and answered with a short 500 body.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.cases import KesuError, RefusalKind

log = logging.getLogger("kesu.api")

STATUS = {
    RefusalKind.INVALID: 422,
    RefusalKind.NOT_FOUND: 404,
    RefusalKind.CONFLICT: 409,
    RefusalKind.FORBIDDEN: 403,
    RefusalKind.UNAVAILABLE: 503,
}
_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    503: "unavailable",
}


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # A lone surrogate in a name echoed back has no UTF-8 form: escape it rather than fail.
    detail = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    body = {"error": _NAMES.get(status, "error"), "detail": detail}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_detail(error: RequestValidationError) -> str:
    """Where and what, e.g. ``body.fields: Input should be a valid dictionary``.

    The offending input is not repeated: it may be customer data.
    """
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    async def refused(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, KesuError)
        return error_response(STATUS[error.kind], str(error))

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return error_response(422, _validation_detail(error))

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return error_response(error.status_code, str(error.detail), dict(error.headers or {}))

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "internal", "detail": "unexpected error; the server log has the cause"},
            status_code=500,
        )

    app.add_exception_handler(KesuError, refused)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed.

    A declared ``Content-Length`` over the limit is refused before anything is read; a chunked
    body is counted as it arrives and refused once it passes the limit.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await error_response(400, "Content-Length is not a number")(scope, receive, send)
            return
        if declared is not None and int(declared) > self.limit:
            await error_response(413, _too_large(self.limit))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException: FastAPI passes it on to the handler above unchanged.
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
