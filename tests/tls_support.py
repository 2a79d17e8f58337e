"""TLS for the connection tests: a certificate authority made at test time and a TLS proxy.

The local services (the Temporal dev server, RabbitMQ, PostgreSQL) speak plain text, so the
tests put ``TlsProxy`` in front of them: it terminates TLS with a server certificate of the test
CA (for 127.0.0.1 and localhost), optionally requires a client certificate of that CA, and relays
the bytes to the plain service. gRPC is HTTP/2, so the Temporal proxy offers ALPN ``h2``.
PostgreSQL negotiates TLS inside its own protocol (an SSLRequest answered with ``S``); the proxy
does that first when ``postgres=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

POSTGRES_SSL_REQUEST = 80877103
POSTGRES_GSSENC_REQUEST = 80877104


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path


@dataclass
class TestAuthority:
    __test__ = False  # a helper, not a test class
    """A certificate authority with a server and a client certificate, written under ``folder``."""

    folder: Path
    name: str = "kesu test CA"
    _key: ec.EllipticCurvePrivateKey = field(init=False, repr=False)
    _cert: x509.Certificate = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        self._cert = (
            _builder(subject, subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    def issue(self, name: str, *, server: bool) -> Pair:
        """A certificate for a server (127.0.0.1, localhost) or a client, signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = _builder(subject, self._cert.subject, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if server:
            names: list[x509.GeneralName] = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        pair = Pair(self.folder / f"{name}.pem", self.folder / f"{name}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pair.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        pair.key.chmod(0o600)
        return pair

    def server_context(
        self, *, client_certs: bool, alpn: list[str] | None = None
    ) -> ssl.SSLContext:
        pair = self.issue("server", server=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pair.cert, pair.key)
        if client_certs:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.ca_cert)
        if alpn:
            context.set_alpn_protocols(alpn)
        return context


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestAuthority:
    """A certificate authority made for the test module."""
    return TestAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def client_pair(ca: TestAuthority) -> Pair:
    """A client certificate of ``ca`` and its key."""
    return ca.issue("kesu-worker", server=False)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def tls_proxy(
    upstream: str, context: ssl.SSLContext, *, postgres: bool = False
) -> AsyncIterator[str]:
    """``127.0.0.1:<port>`` speaking TLS, relaying to the plain ``upstream`` ``host:port``."""
    host, _, port = upstream.rpartition(":")
    tasks: set[asyncio.Task[None]] = set()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if postgres:
                # The client asks for TLS in plain text first; "S" says yes, then the handshake.
                # (A libpq built with GSSAPI asks for that first: "N" declines it.)
                length, code = struct.unpack("!II", await reader.readexactly(8))
                if (length, code) == (8, POSTGRES_GSSENC_REQUEST):
                    writer.write(b"N")
                    length, code = struct.unpack("!II", await reader.readexactly(8))
                if (length, code) != (8, POSTGRES_SSL_REQUEST):
                    writer.close()
                    return
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(context)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(relay(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(track, "127.0.0.1", 0, ssl=None if postgres else context)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
