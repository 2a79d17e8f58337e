"""Webhooks: an HTTP POST of JSON, signed with HMAC-SHA256 (stdlib ``urllib``).

The receiver checks ``X-Kesu-Signature: sha256=<hex>``, the HMAC of ``<timestamp>.<body>``
under the shared secret, where the timestamp is the ``X-Kesu-Timestamp`` header (Unix
seconds): signing the time lets it refuse old requests replayed by someone else. The
``Idempotency-Key`` header (percent-encoded, as case ids may hold any character) repeats the
body's ``id``; a receiver that saw it before answers 2xx and does nothing.

Body: ``{"id", "case_id", "recipient", "template", ...}`` plus, for a domain event (recipient
``events``), ``"event"`` with the event document, else ``"message"`` with the rendered
``language``, ``subject`` and ``body``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from activities.events import EVENTS_RECIPIENT
from activities.messaging import Envelope, PermanentError
from activities.templates import Renderer, RenderError

SIGNATURE_HEADER = "X-Kesu-Signature"
TIMESTAMP_HEADER = "X-Kesu-Timestamp"
KEY_HEADER = "Idempotency-Key"
RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""4xx answers that mean "later", not "never"."""


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookChannel:
    def __init__(
        self,
        url: str,
        secret: bytes,
        renderer: Renderer | None,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        ca_file: str | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a non-empty secret")
        self._url = url
        # Always verified: a receiver with a private CA is configured with ca_file.
        self._tls = ssl.create_default_context(cafile=ca_file) if url.startswith("https") else None
        self._secret = secret
        self._renderer = renderer
        self._timeout = timeout
        self._clock = clock

    def send(self, message: Envelope) -> None:
        body = json.dumps(self._payload(message), ensure_ascii=False).encode("utf-8")
        timestamp = str(int(self._clock()))
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signature(self._secret, timestamp, body),
                KEY_HEADER: urllib.parse.quote(message.idempotency_key, safe=":-._~"),
                "User-Agent": "kesu",
            },
        )
        try:
            with urllib.request.urlopen(
                request, timeout=self._timeout, context=self._tls
            ) as response:
                response.read()
        except urllib.error.HTTPError as error:
            # Never quote the answer's body: a receiver may echo the message back.
            if 400 <= error.code < 500 and error.code not in RETRYABLE_STATUSES:
                problem = f"the webhook refused the message (HTTP {error.code})"
                raise PermanentError(problem) from None
            raise ConnectionError(f"the webhook answered HTTP {error.code}") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, ssl.SSLCertVerificationError):
                raise ConnectionError(
                    "the webhook's TLS certificate is not trusted "
                    f"({error.reason.verify_message}): set the channel's ca_file to the CA "
                    "certificate that signed it"
                ) from None
            raise ConnectionError(f"the webhook is unreachable: {error.reason}") from None

    def _payload(self, message: Envelope) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": message.idempotency_key,
            "case_id": message.case_id,
            "recipient": message.recipient,
            "template": message.template,
        }
        if message.recipient == EVENTS_RECIPIENT:
            payload["event"] = dict(message.params)
            return payload
        if self._renderer is None:
            raise PermanentError("this webhook has no templates to render messages with")
        try:
            rendered = self._renderer.render(
                message.template, message.params, message.trigger, message.version
            )
        except RenderError as error:
            raise PermanentError(str(error)) from None
        payload["message"] = {
            "language": rendered.language,
            "subject": rendered.subject,
            "body": rendered.body,
        }
        return payload
