"""Real receivers on loopback for the channel tests: an SMTP server and a webhook endpoint.

Fixtures (registered in conftest): ``smtp_server`` -> (Mailbox, port) and ``webhook_receiver``
-> (Receiver, url). The webhook receiver checks every request's signature like a real one.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import hmac
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.messaging_support import free_port

WEBHOOK_SECRET = b"s3cret-shared-with-the-receiver"


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it receives; refuses recipients on ``refuse``."""

    refuse: set[str] = field(default_factory=set)
    received: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass
class Receiver:
    """Answers ``statuses`` in turn (then 200); keeps every request whose signature is valid."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], raw: bytes) -> int:
        timestamp = headers["X-Kesu-Timestamp"]
        expected = hmac.new(
            WEBHOOK_SECRET, timestamp.encode() + b"." + raw, hashlib.sha256
        ).hexdigest()
        with self.lock:
            if not hmac.compare_digest(headers["X-Kesu-Signature"], f"sha256={expected}"):
                self.bad_signatures += 1
                return 401
            self.requests.append((headers, json.loads(raw)))
            return self.statuses.pop(0) if self.statuses else 200


@contextlib.contextmanager
def webhook_server(state: Receiver, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """An endpoint answering as ``state`` says, over TLS with ``tls``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(state.answer(dict(self.headers.items()), raw))
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/hooks/kesu"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    with webhook_server(state) as url:
        yield state, url
