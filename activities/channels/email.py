"""E-mail over SMTP (stdlib ``smtplib``; activities run in threads, so blocking is fine).

The message's idempotency key becomes its Message-ID (and an ``X-Kesu-Idempotency-Key``
header): a message sent twice (a deliverer died between sending and recording) carries the
same Message-ID both times, which mail systems and readers use to drop the duplicate.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from enum import StrEnum

from activities.messaging import Envelope, PermanentError
from activities.templates import Renderer, RenderError


class Security(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


@dataclass(frozen=True)
class AddressRule:
    """Where a recipient role's mail goes: a fixed address, or the case field holding one."""

    address: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    security: Security = Security.NONE
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ca_file: str | None = None
    """CA certificates (PEM) that sign the relay's certificate; None: the system's CAs."""

    def tls_context(self) -> ssl.SSLContext:
        # Always verified: a relay with a private CA is configured with ca_file, never unchecked.
        return ssl.create_default_context(cafile=self.ca_file)


def message_id(idempotency_key: str, sender: str) -> str:
    """A Message-ID from the key: ASCII whatever the case id holds, the same on every send."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    domain = sender.rpartition("@")[2] or "kesu.invalid"
    return f"<kesu.{digest}@{domain}>"


class SmtpChannel:
    def __init__(
        self, settings: SmtpSettings, renderer: Renderer, addresses: Mapping[str, AddressRule]
    ) -> None:
        self._settings = settings
        self._renderer = renderer
        self._addresses = dict(addresses)

    def send(self, message: Envelope) -> None:
        mail = self.compose(message)
        try:
            with self._connect() as smtp:
                smtp.send_message(mail)
        except ssl.SSLCertVerificationError as error:
            # Retried: the operator may fix the configuration meanwhile.
            raise ConnectionError(
                f"the SMTP server's TLS certificate is not trusted ({error.verify_message}): "
                "set the channel's ca_file to the CA certificate that signed it"
            ) from None
        except smtplib.SMTPRecipientsRefused:
            # Its text would quote the (customer's) address: report the fact only.
            raise PermanentError("the SMTP server refused the recipient address") from None
        except smtplib.SMTPResponseException as error:
            # 5xx is a final answer (bad address, message refused); 4xx means try later.
            if 500 <= error.smtp_code < 600:
                problem = f"the SMTP server refused the message ({error.smtp_code})"
                raise PermanentError(problem) from None
            problem = f"the SMTP server deferred the message ({error.smtp_code})"
            raise ConnectionError(problem) from None

    def compose(self, message: Envelope) -> EmailMessage:
        try:
            rendered = self._renderer.render(
                message.template, message.params, message.trigger, message.version
            )
        except RenderError as error:
            raise PermanentError(str(error)) from None
        mail = EmailMessage()
        mail["Subject"] = rendered.subject
        mail["From"] = self._settings.sender
        mail["To"] = self._address(message)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(message.idempotency_key, self._settings.sender)
        mail["X-Kesu-Idempotency-Key"] = message.idempotency_key
        mail["X-Kesu-Case"] = message.case_id
        mail.set_content(rendered.body)
        mail["Content-Language"] = rendered.language  # after set_content, which clears Content-*
        return mail

    def _address(self, message: Envelope) -> str:
        rule = self._addresses.get(message.recipient)
        if rule is None:
            raise PermanentError(f"no e-mail address configured for '{message.recipient}'")
        if rule.address is not None:
            return rule.address
        fields = message.params.get("fields") or {}
        value = fields.get(rule.field) if rule.field else None
        if not isinstance(value, str) or "@" not in value:
            raise PermanentError(
                f"the case has no e-mail address in field '{rule.field}' for '{message.recipient}'"
            )
        return value

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        if settings.security is Security.TLS:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout,
                context=settings.tls_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.security is Security.STARTTLS:
                smtp.starttls(context=settings.tls_context())
            if settings.username is not None:
                smtp.login(settings.username, settings.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp
