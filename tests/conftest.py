"""Shared fixtures: a database per test, on SQLite and on PostgreSQL.

Every test that asks for ``database_url`` (or ``session_factory``) runs twice: on a fresh SQLite
file and in a fresh PostgreSQL schema that is dropped afterwards, so parallel or repeated runs
against one server never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from activities.storage import make_engine, make_session_factory
from activities.storage.migrations import migrate
from tests.receivers import smtp_server, webhook_receiver
from tests.services import require_service
from tests.temporal_support import (
    harness,
    specs,
    temporal_env,
    time_env,
    timed_harness,
    unique_key,
)
from tests.tls_support import ca, client_pair

# fixtures shared by the suite
__all__ = [
    "ca",
    "client_pair",
    "harness",
    "smtp_server",
    "specs",
    "temporal_env",
    "time_env",
    "timed_harness",
    "unique_key",
    "webhook_receiver",
]

POSTGRES_URL_ENV = "KESU_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test server for creating and dropping schemas; skips if unreachable."""
    url = make_url(postgres_url())
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"connect_timeout": 3}, hide_parameters=True
    )
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        engine.dispose()
        where = url.render_as_string(hide_password=True)
        require_service("PostgreSQL", f"PostgreSQL not reachable at {where}: {error.orig}")
    yield engine
    engine.dispose()


def _postgres_schema_url(admin: Engine) -> Iterator[str]:
    schema = f"kesu_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # search_path in the URL: everything built from it (engines in the test, a worker started
    # by a Temporal test) lands in the schema, without code under test knowing about it.
    url = make_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            # A session a failed test left open must not hang the whole run.
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        # A folder that does not exist yet: make_engine creates it, as for data/ on first run.
        yield f"sqlite:///{tmp_path / 'data' / 'kesu.db'}"
    else:
        yield from _postgres_schema_url(request.getfixturevalue("postgres_admin"))


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL schema alone, for what only PostgreSQL refuses (a NUL in text)."""
    yield from _postgres_schema_url(request.getfixturevalue("postgres_admin"))


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's database, with kesu's tables created by the migrations."""
    engine = make_engine(database_url)
    migrate(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()
