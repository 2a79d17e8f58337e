"""Serve kesu's HTTP API: ``python api_server.py [--host 127.0.0.1] [--port 8000]``.

The entry point of the API: it reads the environment and the token file and hands them to
``api.create_app``. With no ``TEMPORAL_ADDRESS`` (embedded defaults) it also runs the embedded
Temporal server and a worker in this process, like ``starter.py demo``, so one command gives a
working service; against a cluster, workers run apart (``worker.py``) unless ``--worker``.

``python api_server.py new-token --actor 王敏 --role agent`` makes a token for the token file;
``python api_server.py codec`` serves only Temporal's codec endpoint (``/encode``, ``/decode``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import re
import secrets
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import uvicorn
import yaml

import telemetry
from activities.storage import make_engine, make_session_factory
from api import TokenTable, create_app
from api.access import ReloadingTokens
from api.auth import TokenConfigError, hash_token
from api.codec import WEB_UI_PREFIX, codec_app
from api.privacy import PrivacySetup
from process.compiler import CompiledSpec
from process.loader import DefinitionError
from runtime import PROJECT_DIR, Settings, SetupError, exit_after, load_specs
from service.cases import Kesu
from service.crypto import EncryptionCodec
from service.versions import PublishedDefinitions
from starter import kesu_for, open_kesu
from worker import running_worker

TOKENS_ENV = "KESU_API_TOKENS"
CODEC_ORIGINS_ENV = "KESU_CODEC_ORIGINS"
DEFAULT_CODEC_ORIGINS = "http://localhost:8233 http://127.0.0.1:8233"
DEFAULT_TOKENS = PROJECT_DIR / "config" / "tokens.yaml"
_ORIGIN = re.compile(r"https?://[^/\s*]+")


def load_tokens(path: Path) -> TokenTable:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SetupError(
            f"no token file at {path}: write one (see config/tokens.example.yaml) "
            f"or name it with {TOKENS_ENV}"
        ) from None
    except (OSError, yaml.YAMLError) as error:
        raise SetupError(f"cannot read the token file {path}: {error}") from None
    try:
        table = TokenTable.from_config(data, source=str(path))
    except TokenConfigError as error:
        raise SetupError(str(error)) from None
    if not len(table):
        raise SetupError(f"{path}: no tokens: nobody could call the API")
    return table


@contextlib.asynccontextmanager
async def serving_kesu(settings: Settings, with_worker: bool) -> AsyncIterator[Kesu]:
    """The service layer for the app's lifetime, with an in-process worker if asked for."""
    if not with_worker:
        async with open_kesu(settings) as kesu:
            yield kesu
        return
    engine = make_engine(settings.database_url)
    try:
        async with running_worker(settings) as client:
            registry = PublishedDefinitions(make_session_factory(engine))
            yield kesu_for(client, settings, registry)
    finally:
        engine.dispose()


def _codec(settings: Settings) -> EncryptionCodec | None:
    if settings.keyring is None:
        return None
    return EncryptionCodec(settings.keyring, allow_plaintext=settings.allow_plaintext)


def _decoders(specs: Mapping[str, CompiledSpec]) -> frozenset[str]:
    return frozenset(role for spec in specs.values() for role in spec.definition.pii_roles)


def codec_origins() -> list[str]:
    """The Web UI origins the codec answers (CORS with credentials): each one exactly."""
    origins = os.environ.get(CODEC_ORIGINS_ENV, DEFAULT_CODEC_ORIGINS).replace(",", " ").split()
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise SetupError(
                f"{CODEC_ORIGINS_ENV}: {origin!r} is not an origin like http://127.0.0.1:8233 "
                "(scheme, host and port; no path, no '*': the codec sends customer data "
                "to these origins with the browser's credentials)"
            )
    return origins


def web_ui_codec_endpoint(host: str, port: int) -> str:
    """Where the embedded Web UI reaches this API's codec (its door for console sessions).

    A wildcard listen address is reached on loopback, the host the embedded UI runs on: the
    console cookie is sent only to the same site as the UI's page."""
    reachable = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}{WEB_UI_PREFIX}"


def _serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configured = os.environ.get(TOKENS_ENV)
    # Read again whenever the file changes: tokens are added and revoked without a restart.
    tokens = ReloadingTokens(Path(configured) if configured else DEFAULT_TOKENS, load_tokens)
    specs = load_specs(settings.definitions_dir)  # a broken definition stops here, with its line
    if args.command == "codec":
        codec = _codec(settings)
        if codec is None:
            raise SetupError("the codec endpoint needs a keyring (KESU_PAYLOAD_KEYS, ...)")
        app = codec_app(codec, tokens, _decoders(specs), codec_origins())
    else:
        if settings.temporal_address is None:  # the embedded server: its UI decodes through us
            endpoint = web_ui_codec_endpoint(args.host, args.port)
            settings = dataclasses.replace(settings, ui_codec_endpoint=endpoint)
        with_worker = args.worker if args.worker is not None else settings.temporal_address is None
        factory = functools.partial(serving_kesu, settings, with_worker)
        records = make_session_factory(make_engine(settings.database_url))
        privacy = PrivacySetup(
            sessions=records,
            codec=_codec(settings),
            web_ui_origins=codec_origins(),
            decoders=_decoders(specs),
        )
        app = create_app(
            factory, tokens, body_limit=args.body_limit, records=records, privacy=privacy
        )
    # log_config=None: uvicorn's lines go through kesu's handler (plain or JSON).
    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None)
    asyncio.run(uvicorn.Server(config).serve())
    return 0


def _new_token(args: argparse.Namespace) -> int:
    token = secrets.token_urlsafe(32)
    print(f"token (give it to the caller; it is not stored): {token}")
    print("entry for the token file:")
    print(yaml.safe_dump(
        [{"actor": args.actor, "roles": args.role, "sha256": hash_token(token)}],
        allow_unicode=True, default_flow_style=None, sort_keys=False,
    ).rstrip())  # fmt: skip
    return 0


def _parser(prog: str = "api_server.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="kesu (客诉) HTTP API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--body-limit", type=int, default=64 * 1024, help="bytes per request")
    worker = parser.add_mutually_exclusive_group()
    worker.add_argument(
        "--worker", dest="worker", action="store_true", default=None,
        help="run a worker in this process (default with the embedded server)",
    )  # fmt: skip
    worker.add_argument("--no-worker", dest="worker", action="store_false")
    commands = parser.add_subparsers(dest="command")
    token = commands.add_parser("new-token", help="make a token and its token-file entry")
    token.add_argument("--actor", required=True, help="who the caller acts as, e.g. 王敏")
    token.add_argument("--role", action="append", default=[], help="a role it acts in")
    commands.add_parser("codec", help="serve only the Temporal codec endpoint (/encode, /decode)")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "api_server.py") -> int:
    args = _parser(prog).parse_args(argv)
    if args.command == "new-token":
        return _new_token(args)
    try:
        telemetry.setup()
        return _serve(args)
    except (SetupError, DefinitionError, telemetry.SettingError) as error:
        print(f"kesu api: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    exit_after(main())
