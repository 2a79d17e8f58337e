"""The operator's channel file (``config/channels.yaml``): which recipient gets which channel.

```yaml
default: console                 # recipients without a route
routes: {customer: mail, supervisor: staff, events: broker}
channels:
  console: {type: console}
  mail:    {type: smtp, host: smtp.example.com, port: 587, security: starttls,
            sender: kefu@example.com, password_env: KESU_SMTP_PASSWORD,
            username_env: KESU_SMTP_USER,
            to: {customer: {field: email}, supervisor: {address: duty@example.com}}}
  staff:   {type: webhook, url: https://hooks.example.com/kesu, secret_env: KESU_WEBHOOK_SECRET}
  broker:  {type: amqp, url_env: KESU_AMQP_URL, exchange: kesu.events}
delivery: {max_attempts: 8, backoff: 30s, max_backoff: 1h}
```

Secrets are never written in the file: it names the environment variables that hold them,
and the entry point passes the environment in. Routing ``events`` anywhere turns on domain
events (``activities.events``). Every mistake is reported with its line, before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from activities import secrets
from activities.events import EVENTS_RECIPIENT
from activities.messaging import Backoff, Channel, ConsoleChannel
from activities.templates import Renderer
from process.durations import Duration, parse_duration
from process.loader import DefinitionError, validate_yaml
from process.problems import Problems
from process.spec import Model

from .amqp import AmqpChannel
from .email import AddressRule, Security, SmtpChannel, SmtpSettings
from .webhook import WebhookChannel


class ChannelConfigError(Problems):
    """A channel file that cannot be used, with every problem found."""

    subject = "the channel configuration"


class ConsoleConfig(Model):
    type: Literal["console"]


class AddressConfig(Model):
    address: str | None = None
    field: str | None = None

    @model_validator(mode="after")
    def _one(self) -> AddressConfig:
        if (self.address is None) == (self.field is None):
            raise ValueError("write exactly one of address (fixed) or field (from the case)")
        return self


class SmtpConfig(Model):
    type: Literal["smtp"]
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str
    security: Security = Security.NONE
    ca_file: str | None = None
    """PEM CA certificates of a relay with a private CA (starttls, tls)."""
    username_env: str | None = None
    password_env: str | None = None
    timeout: Duration = "30s"
    to: dict[str, AddressConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tls_where_needed(self) -> SmtpConfig:
        if self.security is Security.NONE:
            if self.ca_file is not None:
                raise ValueError("ca_file needs security: starttls or tls")
            if self.password_env is not None:
                raise ValueError(
                    "security: none would send the password in clear text; use starttls or tls"
                )
        return self


class WebhookConfig(Model):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret_env: str
    timeout: Duration = "10s"
    ca_file: str | None = None
    """PEM CA certificates of a receiver with a private CA (https only)."""

    @model_validator(mode="after")
    def _tls_where_needed(self) -> WebhookConfig:
        if self.ca_file is not None and not self.url.startswith("https://"):
            raise ValueError("ca_file needs an https:// url")
        return self


class AmqpConfig(Model):
    type: Literal["amqp"]
    url_env: str
    """The broker URL holds a password, so it comes from the environment."""
    exchange: str = "kesu.events"
    timeout: Duration = "10s"


class DeliveryConfig(Model):
    max_attempts: int = Field(default=8, ge=1)
    backoff: Duration = "30s"
    max_backoff: Duration = "1h"


ChannelConfig = Annotated[
    ConsoleConfig | SmtpConfig | WebhookConfig | AmqpConfig, Field(discriminator="type")
]


def _check_channel(name: str, info: ValidationInfo, where: str = "") -> None:
    channels = info.data.get("channels")
    if channels is not None and name not in channels:  # None: channels had errors of their own
        known = ", ".join(channels) or "none"
        raise ValueError(f"{where}no channel named '{name}' (channels: {known})")


def _console_only() -> dict[str, ChannelConfig]:
    return {"console": ConsoleConfig(type="console")}


class ChannelsFile(Model):
    # channels first: default and routes are checked against them (pydantic validates fields
    # in this order, so a wrong name is reported at its own line).
    channels: dict[str, ChannelConfig] = Field(default_factory=_console_only)
    default: str = "console"
    routes: dict[str, str] = Field(default_factory=dict)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)

    @field_validator("default")
    @classmethod
    def _known_default(cls, name: str, info: ValidationInfo) -> str:
        _check_channel(name, info)
        return name

    @field_validator("routes")
    @classmethod
    def _known_routes(cls, routes: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for recipient, name in routes.items():
            _check_channel(name, info, f"{recipient}: ")
        return routes

    @property
    def needs_templates(self) -> bool:
        """Whether a channel renders messages (the worker then loads and checks templates)."""
        return any(isinstance(c, SmtpConfig | WebhookConfig) for c in self.channels.values())


@dataclass
class ChannelSetup:
    """The channels the worker hands to ``MessagingActivities``, and how to close them."""

    routes: dict[str, Channel]
    default: Channel
    events: bool = False
    """Whether steps queue domain events (``events`` is routed somewhere)."""
    max_attempts: int = 8
    backoff: Backoff = field(default_factory=Backoff)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            close()


def console_setup() -> ChannelSetup:
    """The embedded default: everything to the console, no domain events."""
    return ChannelSetup(routes={}, default=ConsoleChannel())


def parse_channels(text: str, source: str) -> ChannelsFile:
    try:
        config, _ = validate_yaml(text, source, ChannelsFile, "channel file", "channels:, routes:")
    except DefinitionError as error:
        raise ChannelConfigError(error.problems) from None
    return config


def _ca_file_problems(name: str, ca_file: str | None) -> list[str]:
    if ca_file is not None and not Path(ca_file).is_file():
        return [f"channels.{name}.ca_file: no such file {ca_file}"]
    return []


def build_channels(
    config: ChannelsFile, environ: Mapping[str, str], renderer: Renderer | None
) -> ChannelSetup:
    """Channels from ``config``, their secrets from ``environ``; unused channels are not built."""
    problems: list[str] = []

    def secret(channel: str, key: str, variable: str | None) -> str | None:
        if variable is None:
            return None
        try:
            value = secrets.secret(environ, variable)  # or from the file VARIABLE_FILE names
        except secrets.SecretFileError as error:
            problems.append(f"channels.{channel}.{key}: {error}")
            return None
        if not value:
            problems.append(f"channels.{channel}.{key}: environment variable {variable} is not set")
        return value

    used = {config.default, *config.routes.values()}
    built: dict[str, Channel] = {}
    closers: list[Callable[[], None]] = []
    for name, spec in config.channels.items():
        if name not in used:
            continue
        if isinstance(spec, ConsoleConfig):
            built[name] = ConsoleChannel()
        elif isinstance(spec, SmtpConfig):
            problems.extend(_ca_file_problems(name, spec.ca_file))
            settings = SmtpSettings(
                host=spec.host,
                port=spec.port,
                sender=spec.sender,
                security=spec.security,
                username=secret(name, "username_env", spec.username_env),
                password=secret(name, "password_env", spec.password_env),
                timeout=parse_duration(spec.timeout).total_seconds(),
                ca_file=spec.ca_file,
            )
            rules = {role: AddressRule(a.address, a.field) for role, a in spec.to.items()}
            if renderer is not None:
                built[name] = SmtpChannel(settings, renderer, rules)
        elif isinstance(spec, WebhookConfig):
            problems.extend(_ca_file_problems(name, spec.ca_file))
            key = secret(name, "secret_env", spec.secret_env)
            timeout = parse_duration(spec.timeout).total_seconds()
            if key:
                built[name] = WebhookChannel(
                    spec.url, key.encode("utf-8"), renderer, timeout=timeout, ca_file=spec.ca_file
                )
        else:
            url = secret(name, "url_env", spec.url_env)
            if url:
                amqp = AmqpChannel(
                    url, spec.exchange, timeout=parse_duration(spec.timeout).total_seconds()
                )
                built[name] = amqp
                closers.append(amqp.close)
    if renderer is None and config.needs_templates:
        problems.append("smtp and webhook channels need the message templates")
    if problems:
        for close in closers:
            close()
        raise ChannelConfigError(problems)
    delivery = config.delivery
    return ChannelSetup(
        routes={role: built[channel] for role, channel in config.routes.items()},
        default=built[config.default],
        events=EVENTS_RECIPIENT in config.routes,
        max_attempts=delivery.max_attempts,
        backoff=Backoff(parse_duration(delivery.backoff), parse_duration(delivery.max_backoff)),
        closers=closers,
    )
