"""Who may call, checked before anything else, from a token file read again when it changes.

``RequireToken`` answers 401 to a request without a known token before its body is parsed, so
a caller without a token learns that first (not that its JSON is malformed). The routes still
take the principal from ``_caller``; this only refuses earlier. ``ReloadingTokens`` lets an
operator add or revoke a token without restarting the API.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import Principal, TokenTable
from .errors import error_response

log = logging.getLogger("kesu.api")

PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json", "/docs"})
PUBLIC_PREFIXES = ("/docs/", "/console")
"""The web console checks its own session cookie (``api/console/session.py``)."""


class TokenSource(Protocol):
    def principal(self, token: str) -> Principal | None: ...


class ReloadingTokens:
    """The token file at ``path``, loaded again by ``load`` when its size or time changes.

    A broken edit keeps the last good table (and is logged, naming the file and the problem),
    so a typo does not lock every caller out.
    """

    def __init__(self, path: Path, load: Callable[[Path], TokenTable]) -> None:
        self._path, self._load = path, load
        self._lock = threading.Lock()
        self._seen = self._stamp()
        self._table = load(path)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self._path)
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size

    def current(self) -> TokenTable:
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return self._table
        with self._lock:
            if stamp != self._seen:
                self._seen = stamp
                try:
                    self._table = self._load(self._path)
                except Exception as error:  # any problem: keep serving the last good table
                    log.error("token file not reloaded, the previous tokens stay: %s", error)
                else:
                    log.info("token file %s reloaded: %d token(s)", self._path, len(self._table))
        return self._table

    def principal(self, token: str) -> Principal | None:
        return self.current().principal(token)


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class RequireToken:
    """401 for a request without a known bearer token, except on the public paths."""

    def __init__(self, app: ASGIApp, tokens: Callable[[], TokenSource]) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in PUBLIC_PATHS
            or path.startswith(PUBLIC_PREFIXES)
            or scope.get("method") == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        token = _bearer_token(scope)
        challenge = {"WWW-Authenticate": "Bearer"}
        if token is None:
            answer = error_response(401, "send 'Authorization: Bearer <token>'", challenge)
        elif self.tokens().principal(token) is None:
            answer = error_response(401, "unknown token", challenge)
        else:
            await self.app(scope, receive, send)
            return
        await answer(scope, receive, send)
