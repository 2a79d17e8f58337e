"""The HTTP API on a real uvicorn server on 127.0.0.1, over a test harness's Kesu."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from activities.keys import Keyring
from api import Principal, TokenTable, create_app
from api.access import TokenSource
from api.privacy import PrivacySetup
from service.cases import Kesu
from service.crypto import EncryptionCodec

TOKENS = {
    "agent-token": Principal("王敏", ("agent",)),
    "supervisor-token": Principal("李强", ("supervisor",)),
    "handler-token": Principal("陈静", ("handler",)),
    "dashboard-token": Principal("看板", ("viewer",)),
}
AGENT = {"Authorization": "Bearer agent-token"}
SUPERVISOR = {"Authorization": "Bearer supervisor-token"}
HANDLER = {"Authorization": "Bearer handler-token"}
DASHBOARD = {"Authorization": "Bearer dashboard-token"}


@contextlib.asynccontextmanager
async def api_client(
    kesu: Kesu, body_limit: int = 64 * 1024, records: sessionmaker[Session] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The API over ``kesu`` (and the case database ``records``, if given) on a loopback
    port, and an HTTP client for it."""
    async with (
        serving(api_app(kesu, body_limit=body_limit, records=records)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        yield client


def api_app(
    kesu: Kesu,
    body_limit: int = 64 * 1024,
    records: sessionmaker[Session] | None = None,
    tokens: TokenSource | None = None,
    privacy: PrivacySetup | None = None,
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[Kesu]:
        yield kesu

    tokens = tokens or TokenTable.of_tokens(TOKENS)
    return create_app(factory, tokens, body_limit=body_limit, records=records, privacy=privacy)


def codec_setup(sessions: sessionmaker[Session], keyring: Keyring, web_ui: str) -> PrivacySetup:
    """The codec endpoint for a Web UI at ``web_ui``, decoding for supervisors and handlers."""
    return PrivacySetup(
        sessions=sessions,
        codec=EncryptionCodec(keyring),
        web_ui_origins=[web_ui],
        decoders=frozenset({"supervisor", "handler"}),
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # Ctrl-C belongs to the test runner, not to this server


@contextlib.asynccontextmanager
async def serving(app: FastAPI, listener: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port for the block (or on ``listener``, a socket
    bound beforehand when its address must be known first); yields its base URL."""
    if listener is None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listener.close()
