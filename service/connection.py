"""How kesu reaches a Temporal cluster: the SDK's own environment configuration.

``temporalio.envconfig`` reads the same ``TEMPORAL_*`` variables and TOML profile file as the
``temporal`` CLI (``TEMPORAL_CONFIG_FILE``, default ``~/.config/temporalio/temporal.toml``;
``TEMPORAL_PROFILE``, default ``default``), so a profile that works for the CLI works for kesu.
The entry points pass the environment in; nothing here reads ``os.environ``.

Everything is checked before the first connection: files that cannot be read, PEM that is not
a certificate or key, a key that does not belong to its certificate, an expired certificate,
TLS or an API key without an address. Each problem names the variable (or profile key) to fix.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS, DataSource
from temporalio.service import TLSConfig

DEFAULT_NAMESPACE = "default"


class ConnectionConfigError(Exception):
    """A Temporal connection setting that cannot work, with every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Material:
    """One PEM input of the TLS set-up, read and checked."""

    where: str
    """The variable or profile key it came from, named in messages."""
    path: Path | None
    """Its file; None when the PEM was given inline (``*_DATA`` or ``data =``)."""
    pem: bytes = field(repr=False)


@dataclass(frozen=True)
class TemporalTls:
    server_ca: Material | None = None
    """None trusts the system's roots (Temporal Cloud, a public CA)."""
    client_cert: Material | None = None
    client_key: Material | None = None
    server_name: str | None = None

    def config(self) -> TLSConfig:
        return TLSConfig(
            domain=self.server_name,
            server_root_ca_cert=self.server_ca.pem if self.server_ca else None,
            client_cert=self.client_cert.pem if self.client_cert else None,
            client_private_key=self.client_key.pem if self.client_key else None,
        )


@dataclass(frozen=True)
class TemporalConnection:
    """Everything ``Client.connect`` needs beside the address and namespace."""

    tls: TemporalTls | None = None
    api_key: str | None = field(default=None, repr=False)
    rpc_metadata: Mapping[str, str] = field(default_factory=dict, repr=False)
    profile: str = "default"
    config_file: Path | None = None
    """The TOML file the profile came from, if any."""

    def connect_options(self) -> dict[str, object]:
        options: dict[str, object] = {"tls": self.tls.config() if self.tls else False}
        if self.api_key:
            options["api_key"] = self.api_key
        if self.rpc_metadata:
            options["rpc_metadata"] = dict(self.rpc_metadata)
        return options


@dataclass(frozen=True)
class TemporalTarget:
    address: str | None
    """None: nothing configured, kesu runs the embedded dev server."""
    namespace: str
    connection: TemporalConnection


def default_config_file(environ: Mapping[str, str]) -> Path:
    """Where the SDK and the CLI look for the profile file on Linux without
    ``TEMPORAL_CONFIG_FILE`` (computed here so that a passed-in environment decides it)."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "temporalio" / "temporal.toml"


def load_temporal_target(environ: Mapping[str, str]) -> TemporalTarget:
    """The cluster ``environ`` and the profile file describe; raises ConnectionConfigError."""
    named = environ.get("TEMPORAL_CONFIG_FILE")
    config_file = Path(named) if named else default_config_file(environ)
    if named and not config_file.is_file():
        raise ConnectionConfigError(
            [f"TEMPORAL_CONFIG_FILE={named}: no such file (the Temporal profile file)"]
        )
    profile_name = environ.get("TEMPORAL_PROFILE") or "default"
    if environ.get("TEMPORAL_PROFILE") and not config_file.is_file():
        raise ConnectionConfigError(
            [
                f"TEMPORAL_PROFILE={profile_name}: there is no profile file ({config_file}); "
                "name it with TEMPORAL_CONFIG_FILE"
            ]
        )
    try:
        profile = ClientConfigProfile.load(
            profile=environ.get("TEMPORAL_PROFILE"),
            config_source=config_file if config_file.is_file() else None,
            disable_file=not config_file.is_file(),
            # A misspelt key would otherwise be dropped silently, TLS settings included.
            config_file_strict=True,
            override_env_vars=dict(environ),
        )
    except Exception as error:  # the bridge's ConfigError is not importable by name
        where = f"{config_file}" if config_file.is_file() else "the environment"
        raise ConnectionConfigError(
            [f"Temporal profile '{profile_name}' from {where}: {error}".strip()]
        ) from None
    source = config_file if config_file.is_file() else None
    problems: list[str] = []
    tls = _tls(profile, environ, problems)
    address = profile.address or None
    if address is None and (tls is not None or profile.api_key):
        problems.append(
            "TLS or an API key is configured for Temporal but no address: set TEMPORAL_ADDRESS "
            "(or address in the profile) to the cluster's host:port"
        )
    if problems:
        raise ConnectionConfigError(problems)
    connection = TemporalConnection(
        tls=tls,
        api_key=profile.api_key or None,
        rpc_metadata=dict(profile.grpc_meta),
        profile=profile_name,
        config_file=source,
    )
    return TemporalTarget(address, profile.namespace or DEFAULT_NAMESPACE, connection)


def _tls(
    profile: ClientConfigProfile, environ: Mapping[str, str], problems: list[str]
) -> TemporalTls | None:
    spec = profile.tls
    # An API key alone means TLS with the system's roots, as the SDK and the CLI do it.
    if spec is None:
        return TemporalTls() if profile.api_key else None
    if spec.disabled:
        return None
    tls = TemporalTls(
        server_ca=_material(spec, "SERVER_CA_CERT", "server_ca_cert", environ, problems),
        client_cert=_material(spec, "CLIENT_CERT", "client_cert", environ, problems),
        client_key=_material(spec, "CLIENT_KEY", "client_key", environ, problems),
        server_name=spec.server_name or None,
    )
    if (spec.client_cert is None) != (spec.client_private_key is None):
        given, missing = ("cert", "KEY") if spec.client_private_key is None else ("key", "CERT")
        problems.append(
            f"a client {given} without its {missing.lower()}: set "
            f"TEMPORAL_TLS_CLIENT_{missing}_PATH as well (mTLS needs both)"
        )
    _check_pem(tls, problems)
    return tls


_SOURCES = {
    "server_ca_cert": "server_root_ca_cert",
    "client_cert": "client_cert",
    "client_key": "client_private_key",
}


def _material(
    spec: ClientConfigTLS,
    variable: str,
    key: str,
    environ: Mapping[str, str],
    problems: list[str],
) -> Material | None:
    source: DataSource | None = getattr(spec, _SOURCES[key])
    if source is None:
        return None
    kind = "PATH" if isinstance(source, Path) else "DATA"
    name = f"TEMPORAL_TLS_{variable}_{kind}"
    where = name if name in environ else f"tls.{key}_{kind.lower()} in the profile"
    if isinstance(source, Path):
        try:
            return Material(where, source, source.read_bytes())
        except OSError as error:
            problems.append(f"{where}={source}: cannot read it: {error.strerror or error}")
            return None
    pem = source.encode("utf-8") if isinstance(source, str) else source
    return Material(where, None, pem)


def _check_pem(tls: TemporalTls, problems: list[str]) -> None:
    now = datetime.datetime.now(datetime.UTC)
    if tls.server_ca is not None:
        try:
            x509.load_pem_x509_certificates(tls.server_ca.pem)
        except ValueError:
            problems.append(f"{describe(tls.server_ca)}: not a PEM certificate (the server's CA)")
    cert = key = None
    if tls.client_cert is not None:
        try:
            cert = x509.load_pem_x509_certificates(tls.client_cert.pem)[0]
        except ValueError:
            problems.append(f"{describe(tls.client_cert)}: not a PEM certificate")
        else:
            if cert.not_valid_after_utc < now:
                problems.append(
                    f"{describe(tls.client_cert)}: the client certificate expired on "
                    f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
                )
    if tls.client_key is not None:
        try:
            key = serialization.load_pem_private_key(tls.client_key.pem, password=None)
        except (ValueError, TypeError):
            problems.append(
                f"{describe(tls.client_key)}: not an unencrypted PEM private key "
                "(kesu cannot ask for a passphrase)"
            )
    if cert is not None and key is not None:
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        encoding = serialization.Encoding.DER
        if cert.public_key().public_bytes(encoding, public) != key.public_key().public_bytes(
            encoding, public
        ):
            problems.append(
                f"{describe(tls.client_key)}: this key does not belong to the client "
                f"certificate {describe(tls.client_cert)}"
            )


def describe(material: Material | None) -> str:
    if material is None:
        return "none"
    return f"{material.where}={material.path}" if material.path else f"{material.where} (inline)"
