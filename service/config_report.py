"""``worker.py --check-config``: the configuration kesu resolved, with every secret masked.

Operators run it on a new machine before starting the worker: it shows where Temporal, the
database, the payload keys and the channels come from (which variable, which file, which
profile) without contacting anything, and names what is missing. Secret values (API keys,
passwords, payload keys, webhook secrets, private keys) are never printed: only whether they
are set and where from.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cryptography import x509
from sqlalchemy import make_url

from activities import secrets
from activities.channels.config import (
    AmqpConfig,
    ChannelsFile,
    ConsoleConfig,
    SmtpConfig,
    WebhookConfig,
)
from activities.keys import Keyring
from service.connection import Material, TemporalConnection, describe

MASK = "***"
SECRET_QUERY_KEYS = ("password", "sslpassword", "secret", "token", "key")
"""URL query parameters whose values are masked (``sslkey`` is a path: ``key`` matches whole
names only)."""


class ResolvedSettings(Protocol):
    """What the report needs of ``runtime.Settings`` (service/ does not import entry points)."""

    @property
    def temporal_address(self) -> str | None: ...
    @property
    def namespace(self) -> str: ...
    @property
    def task_queue(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def database_url(self) -> str: ...
    @property
    def definitions_dir(self) -> Path: ...
    @property
    def keyring(self) -> Keyring | None: ...
    @property
    def temporal(self) -> TemporalConnection: ...


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, value: str, indent: int = 1) -> None:
        width = 18 - 2 * indent  # values line up whatever the nesting
        self.lines.append(f"{'  ' * indent}{name + ':':<{width}} {value}")

    def text(self) -> str:
        body = ["kesu configuration (secrets masked)", *self.lines]
        if self.problems:
            body += ["", f"{len(self.problems)} problem(s):", *(f"  {p}" for p in self.problems)]
        return "\n".join(body)


def check_config(
    settings: ResolvedSettings,
    environ: Mapping[str, str],
    channels: tuple[Path, ChannelsFile] | None,
) -> Report:
    report = Report()
    _temporal(report, settings)
    report.lines.append("kesu")
    report.add("task queue", settings.task_queue)
    report.add("definitions", str(settings.definitions_dir))
    report.add("data dir", str(settings.data_dir))
    report.add("database", mask_database_url(settings.database_url))
    report.add("payload keys", _keys(settings, environ))
    if settings.keyring is None:
        report.problems.append(
            "no payload key (KESU_PAYLOAD_KEY, KESU_PAYLOAD_KEYS or KESU_KEYRING): case data "
            "would go to Temporal readable"
        )
    _channels(report, channels, environ)
    return report


def _temporal(report: Report, settings: ResolvedSettings) -> None:
    report.lines.append("temporal")
    connection = settings.temporal
    if settings.temporal_address is None:
        report.add("mode", f"embedded dev server (state in {settings.data_dir})")
        return
    report.add("mode", "cluster")
    report.add("address", settings.temporal_address)
    report.add("namespace", settings.namespace)
    if connection.config_file is not None:
        report.add("profile", f"'{connection.profile}' of {connection.config_file}")
    tls = connection.tls
    if tls is None:
        report.add("tls", "off (plain text)")
    else:
        report.add("tls", "on")
        report.add("server CA", describe(tls.server_ca) if tls.server_ca else "system CAs", 2)
        if tls.server_name:
            report.add("server name", tls.server_name, 2)
        report.add("client cert", _certificate(tls.client_cert), 2)
        if tls.client_key is not None:
            report.add("client key", f"{describe(tls.client_key)} (contents masked)", 2)
    report.add("api key", f"set ({MASK})" if connection.api_key else "not set")
    if connection.rpc_metadata:
        names = ", ".join(sorted(connection.rpc_metadata))
        report.add("grpc metadata", f"{names} (values masked)")


def _certificate(material: Material | None) -> str:
    if material is None:
        return "none"
    try:
        cert = x509.load_pem_x509_certificates(material.pem)[0]
    except ValueError:
        return describe(material)
    subject = cert.subject.rfc4514_string()
    until = cert.not_valid_after_utc
    left = until - datetime.datetime.now(datetime.UTC)
    return f"{describe(material)} ({subject}, valid until {until:%Y-%m-%d}, {left.days} days)"


def _keys(settings: ResolvedSettings, environ: Mapping[str, str]) -> str:
    keyring = settings.keyring
    if keyring is None:
        return "NOT SET"
    variables = ("KESU_PAYLOAD_KEYS", "KESU_KEYRING", "KESU_PAYLOAD_KEY")
    given = [name for name in variables if environ.get(name) or environ.get(name + "_FILE")]
    source = secrets.source(environ, given[0]) if given else str(settings.data_dir / "payload.key")
    return f"{len(keyring.ids)} from {source}, new data under key {keyring.primary_id} ({MASK})"


def _channels(
    report: Report, channels: tuple[Path, ChannelsFile] | None, environ: Mapping[str, str]
) -> None:
    report.lines.append("channels")
    if channels is None:
        report.add("file", "none: every message to the console")
        return
    path, config = channels
    report.add("file", str(path))
    report.add("default", config.default)
    for recipient, name in sorted(config.routes.items()):
        report.add(f"→ {recipient}", name, 2)
    for name, spec in config.channels.items():
        report.add(name, _channel(name, spec, environ, report.problems), 1)


def _channel(
    name: str,
    spec: ConsoleConfig | SmtpConfig | WebhookConfig | AmqpConfig,
    environ: Mapping[str, str],
    problems: list[str],
) -> str:
    def secret(key: str, variable: str | None) -> str:
        if variable is None:
            return ""
        what = key.removesuffix("_env")
        try:
            value = secrets.secret(environ, variable)
        except secrets.SecretFileError as error:
            problems.append(f"channels.{name}.{key}: {error}")
            return f", {what} from {secrets.source(environ, variable)} (UNREADABLE)"
        if not value:
            problems.append(f"channels.{name}.{key}: environment variable {variable} is not set")
            return f", {what} from {variable} (NOT SET)"
        return f", {what} from {secrets.source(environ, variable)} ({MASK})"

    if isinstance(spec, ConsoleConfig):
        return "console"
    if isinstance(spec, SmtpConfig):
        ca = f", CA {spec.ca_file}" if spec.ca_file else ""
        return (
            f"smtp {spec.host}:{spec.port} security {spec.security.value}{ca}"
            f"{secret('username_env', spec.username_env)}"
            f"{secret('password_env', spec.password_env)}"
        )
    if isinstance(spec, WebhookConfig):
        ca = f", CA {spec.ca_file}" if spec.ca_file else ""
        return f"webhook {spec.url}{ca}{secret('secret_env', spec.secret_env)}"
    try:
        url = secrets.secret(environ, spec.url_env)
    except secrets.SecretFileError:
        url = None  # named as a problem by secret() below
    shown = f" {mask_url(url)}" if url else ""
    return f"amqp exchange {spec.exchange}{shown}{secret('url_env', spec.url_env)}"


def mask_url(url: str) -> str:
    """``amqps://kesu:pw@mq:5671/?cafile=x`` -> ``amqps://kesu:***@mq:5671/?cafile=x``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, _, host = netloc.rpartition("@")
        user, colon, _ = credentials.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{user}@{host}"
    query = urlencode(
        [(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in parse_qsl(parts.query)],
        safe="/*",
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def mask_database_url(url: str) -> str:
    parsed = make_url(url)
    secret_keys = [k for k in parsed.query if k.lower() in SECRET_QUERY_KEYS]
    if secret_keys:
        parsed = parsed.update_query_dict(dict.fromkeys(secret_keys, MASK))
    # Unquoted for reading: the password is masked already, paths stay legible.
    return unquote(parsed.render_as_string(hide_password=True))
