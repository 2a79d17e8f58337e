"""The database connection: engine, session factory, schema and the column types the models share.

kesu runs on SQLite (the embedded default: one file under ``data/``) and on PostgreSQL. Everything
dialect-specific lives here so that the models and activities read the same on both.
"""

from __future__ import annotations

import contextlib
import json
import threading
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Dialect,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import DateTime, TypeDecorator

# Stable constraint names, so that the Alembic migrations (``migrations``) can refer to (and
# drop) constraints by name on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers (the CLI) do not block the worker's writes
    "PRAGMA synchronous=NORMAL",  # durable at checkpoints; safe with WAL, far fewer fsyncs
    "PRAGMA foreign_keys=ON",  # SQLite ignores foreign keys unless asked, per connection
    "PRAGMA busy_timeout=5000",  # activity threads wait for the write lock rather than fail
    "PRAGMA secure_delete=ON",  # a destroyed case key is overwritten, not left in a free page
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz`` but returns it in the session's time zone; SQLite has no
    time zone at all and hands back naive values. Both are normalised to UTC here. Naive values
    are refused on the way in: their meaning would depend on the machine that wrote them.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; kesu stores UTC only")
        value = value.astimezone(UTC)
        # SQLite keeps the wall-clock text; stored in UTC it also sorts and compares correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact); JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")

# BIGINT on PostgreSQL; SQLite only auto-increments a column declared exactly INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _dump_json(value: Any) -> str:
    # ensure_ascii=False keeps Chinese text readable in the SQLite file instead of \\u escapes.
    return json.dumps(value, ensure_ascii=False)


def _set_sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``: a SQLite file (its folder is created) or a PostgreSQL server.

    ``hide_parameters``: a database error never carries the statement's values (customer
    data) into logs or Temporal failures."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, json_serializer=_dump_json, hide_parameters=True)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        # pysqlite's own transaction handling stays on purpose: it opens the transaction at the
        # first write, so a writer waits (busy_timeout) for the lock and then sees the latest
        # committed data; duplicate steps then fail on the unique key instead of on a stale
        # snapshot ("database is locked").
        return engine
    # pool_pre_ping: a worker outlives database restarts and idle-connection reaping.
    return create_engine(
        parsed, json_serializer=_dump_json, pool_pre_ping=True, hide_parameters=True
    )


def scrub(sessions: sessionmaker[Session]) -> None:
    """Let what was just overwritten leave the files too: SQLite keeps old page images in its
    write-ahead log until a checkpoint (PostgreSQL's dead rows go with autovacuum)."""
    with sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: rows returned from a finished transaction stay readable (the CLI
    # prints them after the session is gone).
    return sessionmaker(engine, expire_on_commit=False)


def writer_gate(sessions: sessionmaker[Session]) -> AbstractContextManager[object]:
    """Held around a write transaction: on SQLite a lock, so that the process's writers take
    their turn here; elsewhere nothing (PostgreSQL locks rows, and writers of different cases
    go ahead together).

    SQLite lets one transaction write at a time anyway. Without the lock, a burst of steps
    (a thousand deadlines breached together) has every activity thread start its transaction,
    run its ORM work while holding the GIL the workflow tasks need too, then poll for the
    database lock with sleeps of up to 100 ms (the busy handler). With it, the waiting
    threads sleep on the lock, off the GIL, and the next takes its turn as soon as one
    commits."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        return threading.Lock()
    return contextlib.nullcontext()
