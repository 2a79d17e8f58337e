"""Why a connection to Temporal failed, in words an operator can act on.

The SDK reports TLS trouble as a gRPC transport error (``InvalidCertificate(UnknownIssuer)``,
or a bare "connection closed" when the server wanted a client certificate). After a failed
connect, ``diagnose`` repeats the TLS handshake with Python's ``ssl`` and the same settings,
whose errors say which side refused what, and turns that into the setting to fix. It returns
None when the handshake is fine or the server is not reachable at all (the caller retries those).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import tempfile
from collections.abc import Iterator

from service.connection import TemporalConnection, TemporalTls, describe

PROBE_SECONDS = 3.0
"""For the diagnosis only, after a connection already failed; never on the working path."""

_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH
_IP_MISMATCH = 64  # X509_V_ERR_IP_ADDRESS_MISMATCH


def credentials_problem(address: str, error: str) -> str | None:
    """The server answered and refused the credentials (an API key, say): no use retrying."""
    if "Unauthenticated" in error or "PermissionDenied" in error:
        return (
            f"Temporal at {address} refused kesu's credentials: check TEMPORAL_API_KEY "
            f"(or api_key in the profile) and the namespace's permissions ({_first_line(error)})"
        )
    return None


async def diagnose(address: str, connection: TemporalConnection) -> str | None:
    host, _, port = address.rpartition(":")
    try:
        # Blocking ssl in a thread: asyncio's TLS transport hides the alert that says why.
        return await asyncio.to_thread(_probe, host, int(port), connection.tls)
    except (OSError, ValueError):
        return None


def _probe(host: str, port: int, tls: TemporalTls | None) -> str | None:
    where = f"{host}:{port}"
    with (
        _context(tls) as context,
        socket.create_connection((host, port), timeout=PROBE_SECONDS) as plain,
    ):
        try:
            secured = context.wrap_socket(plain, server_hostname=_server_name(host, tls))
        except ssl.SSLCertVerificationError as error:
            return _untrusted_server(where, tls, error)
        except ssl.SSLError as error:
            return None if tls is None else _refused(where, tls, error.reason)
        if tls is None:
            return (
                f"Temporal at {where} expects TLS: set TEMPORAL_TLS=true (with "
                "TEMPORAL_TLS_SERVER_CA_CERT_PATH when its certificate comes from a private CA)"
            )
        # TLS 1.3 servers refuse a client certificate after the handshake: an alert, or just
        # a closed connection, where a server content with it waits for the HTTP/2 preface.
        secured.settimeout(1.0)
        try:
            if secured.recv(1) == b"":
                return _refused(where, tls, "closed the connection after the handshake")
        except ssl.SSLError as error:
            return _refused(where, tls, error.reason)
        except TimeoutError:
            pass
        finally:
            secured.close()
    return None


def _untrusted_server(
    where: str, tls: TemporalTls | None, error: ssl.SSLCertVerificationError
) -> str:
    if error.verify_code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
        return (
            f"the TLS certificate of Temporal at {where} is not issued for that name "
            f"({error.verify_message}): set TEMPORAL_TLS_SERVER_NAME to the name it is issued "
            "for, or connect by that name"
        )
    trusted = (
        f"the CA in {describe(tls.server_ca)}" if tls and tls.server_ca else "the system's CAs"
    )
    return (
        f"the TLS certificate of Temporal at {where} is not trusted by {trusted} "
        f"({error.verify_message}): set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA "
        "certificate that signed the server's certificate"
    )


def _refused(where: str, tls: TemporalTls, reason: str | None) -> str:
    if reason and ("WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER" in reason):
        return (
            f"Temporal at {where} does not speak TLS ({reason}): check TEMPORAL_ADDRESS, "
            "or turn TLS off (TEMPORAL_TLS=false) for a plain-text server"
        )
    if tls.client_cert is None:
        return (
            f"Temporal at {where} requires a client certificate ({reason}): set "
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (mTLS)"
        )
    return (
        f"Temporal at {where} refused the client certificate {describe(tls.client_cert)} "
        f"({reason}): it must be signed by a CA the server trusts for clients, and be "
        "valid for client authentication"
    )


def _server_name(host: str, tls: TemporalTls | None) -> str | None:
    if tls is None:
        return None
    return tls.server_name or host


@contextlib.contextmanager
def _context(tls: TemporalTls | None) -> Iterator[ssl.SSLContext]:
    if tls is None:
        # Only to learn whether the server speaks TLS at all.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        yield context
        return
    context = ssl.create_default_context()
    if tls.server_ca is not None:
        context.load_verify_locations(cadata=tls.server_ca.pem.decode("ascii", "replace"))
    context.set_alpn_protocols(["h2"])
    if tls.client_cert is None or tls.client_key is None:
        yield context
        return
    # ssl loads a certificate chain from files only; inline PEM goes through a private folder.
    with tempfile.TemporaryDirectory(prefix="kesu-tls-") as folder:
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        for path, pem in ((cert, tls.client_cert.pem), (key, tls.client_key.pem)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as file:
                file.write(pem)
        context.load_cert_chain(cert, key)
        yield context


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
