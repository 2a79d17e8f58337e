"""Messages over TLS: SMTP with STARTTLS and with implicit TLS (aiosmtpd serving a certificate
of a CA made at test time), and AMQPS to the local RabbitMQ through a TLS proxy that requires a
client certificate."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from activities.channels.amqp import AmqpChannel
from activities.channels.email import (
    AddressRule,
    Security,
    SmtpChannel,
    SmtpSettings,
)
from activities.channels.webhook import WebhookChannel
from activities.events import EVENTS_RECIPIENT
from activities.messaging import Envelope
from tests.messaging_support import CUSTOMER, free_port, shipped_renderer
from tests.receivers import WEBHOOK_SECRET, Mailbox, Receiver, webhook_server
from tests.services import require_service
from tests.tls_support import Pair, TestAuthority, tls_proxy

SENDER = "kefu@bank.example"
CASE = "complaint-tls-邮件"
USER, PASSWORD = "kefu", "relay-password-42"
AMQP_UPSTREAM = "127.0.0.1:5672"


def envelope(recipient: str = "customer", template: str = "acknowledged") -> Envelope:
    return Envelope(
        idempotency_key=f"{CASE}:0:0",
        case_id=CASE,
        recipient=recipient,
        template=template,
        params={"case_id": CASE, "process": "complaint", "stage": "intake", "fields": CUSTOMER},
    )


def check_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=good)


@contextlib.contextmanager
def smtp_relay(ca: TestAuthority, security: Security) -> Iterator[tuple[Mailbox, int]]:
    """A relay that takes mail only over TLS and only after a login."""
    mailbox, port = Mailbox(), free_port()
    context = ca.server_context(client_certs=False)
    tls: dict[str, Any] = (
        # aiosmtpd only counts STARTTLS as TLS for AUTH; this whole connection is TLS.
        {"ssl_context": context, "auth_require_tls": False}
        if security is Security.TLS
        else {"tls_context": context, "require_starttls": True}
    )
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=check_login,
        auth_required=True,
        **tls,
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def mail_channel(port: int, security: Security, ca_file: Path) -> SmtpChannel:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=port,
        sender=SENDER,
        security=security,
        username=USER,
        password=PASSWORD,
        timeout=10,
        ca_file=str(ca_file),
    )
    return SmtpChannel(settings, shipped_renderer(), {"customer": AddressRule(field="email")})


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", [Security.STARTTLS, Security.TLS])
def test_mail_goes_through_a_tls_relay_with_a_private_ca(
    ca: TestAuthority, security: Security
) -> None:
    with smtp_relay(ca, security) as (mailbox, port):
        mail_channel(port, security, ca.ca_cert).send(envelope())
    [mail] = mailbox.received
    assert mail["To"] == "zhang.wei@example.com"
    assert mail["X-Kesu-Case"] == CASE


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", [Security.STARTTLS, Security.TLS])
def test_a_relay_certificate_of_another_ca_is_refused_and_retried(
    ca: TestAuthority, tmp_path: Path, security: Security
) -> None:
    other = TestAuthority(tmp_path / "other", name="other CA")
    with smtp_relay(ca, security) as (mailbox, port):
        channel = mail_channel(port, security, other.ca_cert)
        with pytest.raises(ConnectionError) as raised:  # retried: the operator may fix it
            channel.send(envelope())
    assert mailbox.received == []
    assert str(raised.value).startswith("the SMTP server's TLS certificate is not trusted")
    assert "set the channel's ca_file" in str(raised.value)
    assert PASSWORD not in str(raised.value)


def test_a_webhook_over_https_with_a_private_ca(ca: TestAuthority, tmp_path: Path) -> None:
    event = envelope(recipient=EVENTS_RECIPIENT, template="case.opened")
    receiver = Receiver()
    with webhook_server(receiver, ca.server_context(client_certs=False)) as url:
        trusting = WebhookChannel(url, WEBHOOK_SECRET, None, timeout=10, ca_file=str(ca.ca_cert))
        trusting.send(event)
        other = TestAuthority(tmp_path / "other", name="other CA").ca_cert
        stranger = WebhookChannel(url, WEBHOOK_SECRET, None, timeout=10, ca_file=str(other))
        with pytest.raises(ConnectionError) as raised:
            stranger.send(event)
    assert [body["id"] for _, body in receiver.requests] == [f"{CASE}:0:0"]
    assert str(raised.value).startswith("the webhook's TLS certificate is not trusted")


@contextlib.asynccontextmanager
async def amqps_url(ca: TestAuthority, pair: Pair | None) -> AsyncIterator[str]:
    """An amqps:// URL to the local RabbitMQ through a proxy that requires client certs."""
    try:
        async with await aio_pika.connect(f"amqp://guest:guest@{AMQP_UPSTREAM}/", timeout=5):
            pass
    except (OSError, aio_pika.exceptions.AMQPError) as error:
        require_service("RabbitMQ", f"RabbitMQ not reachable: {type(error).__name__}: {error}")
    async with tls_proxy(AMQP_UPSTREAM, ca.server_context(client_certs=True)) as address:
        query = f"cafile={quote(str(ca.ca_cert))}"
        if pair is not None:
            query += f"&certfile={quote(str(pair.cert))}&keyfile={quote(str(pair.key))}"
        yield f"amqps://guest:guest@{address}/?{query}"


async def test_domain_events_are_published_over_amqps_with_a_client_certificate(
    ca: TestAuthority, client_pair: Pair
) -> None:
    exchange = f"kesu.test.tls.{uuid.uuid4().hex[:8]}"
    async with (
        amqps_url(ca, client_pair) as url,
        await aio_pika.connect(f"amqp://guest:guest@{AMQP_UPSTREAM}/") as plain,
    ):
        listen = await plain.channel()
        declared = await listen.declare_exchange(
            exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await listen.declare_queue(exclusive=True)
        await queue.bind(declared, "case.#")
        channel = AmqpChannel(url, exchange, timeout=10)
        try:
            await asyncio.to_thread(
                channel.send, envelope(recipient=EVENTS_RECIPIENT, template="case.opened")
            )
        finally:
            await asyncio.to_thread(channel.close)
        message = await queue.get(no_ack=True)
        await declared.delete()
    assert (message.routing_key, message.message_id) == ("case.opened", f"{CASE}:0:0")


async def test_amqps_without_a_client_certificate_fails_without_the_password(
    ca: TestAuthority,
) -> None:
    async with amqps_url(ca, None) as url:
        channel = AmqpChannel(url, "kesu.nowhere", timeout=5)
        try:
            with pytest.raises(Exception) as raised:
                await asyncio.to_thread(channel.send, envelope(EVENTS_RECIPIENT, "case.opened"))
        finally:
            await asyncio.to_thread(channel.close)
    assert "guest:guest" not in str(raised.value)
