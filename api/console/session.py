"""Who uses the console: the API's bearer token, kept in a cookie after the login page.

The cookie is HttpOnly and SameSite=Strict (and Secure over HTTPS), so page scripts cannot read
it and other sites cannot send it. Every form also carries a token derived from the session
(``csrf``), checked on each POST, so a forged form from elsewhere is refused even so.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qsl

from fastapi import Request, Response

from api.access import TokenSource
from api.auth import Principal

from .i18n import LANGUAGES, pick_language

SESSION_COOKIE = "kesu_console"
LANGUAGE_COOKIE = "kesu_lang"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Session:
    def __init__(self, request: Request, tokens: TokenSource, secret: bytes) -> None:
        self._token = request.cookies.get(SESSION_COOKIE) or ""
        self.principal: Principal | None = tokens.principal(self._token) if self._token else None
        self.language = pick_language(
            request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
        )
        self.csrf = hmac.new(secret, self._token.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, sent: str | None) -> bool:
        return self.principal is not None and hmac.compare_digest(self.csrf, sent or "")


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def sign_in(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/console",
        max_age=12 * 3600,
    )


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/console")


def choose_language(response: Response, language: str) -> None:
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, samesite="lax", path="/console")


def _secure(request: Request) -> bool:
    """Secure cookies everywhere but plain HTTP on this machine (a developer's loopback)."""
    return request.url.scheme == "https" or (request.client or ("", 0))[0] not in _LOOPBACK


async def form_data(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; the API's body limit bounds its size."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=200))
