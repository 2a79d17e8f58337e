"""kesu's schema, managed with Alembic: ``migrate(engine)`` brings a database to the newest
revision (the worker calls it at start-up); the CLI checks with ``require_current`` before it
reads.

A schema change is a new file in ``versions/``. Change the models, then let Alembic draft it
against a database at the current head::

    from alembic import command
    command.revision(alembic_config(connection), "what changed", autogenerate=True)

(with ``connection`` open on that database), review the draft, and keep it free of imports from
kesu: a migration must describe the schema as it was, whatever the models say later.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "kesu_alembic_version"
# Any fixed number: PostgreSQL advisory lock that lets one worker at a time migrate.
_MIGRATION_LOCK = 0x6B657375  # "kesu"


class SchemaError(Exception):
    """The database's schema is not one kesu can use as is; the message says what to do."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _refuse_unmanaged(connection: Connection) -> None:
    tables = set(inspect(connection).get_table_names())
    if "kesu_case" in tables and VERSION_TABLE not in tables:
        raise SchemaError(
            "the database has kesu tables from before schema migrations; move it aside (for "
            "the embedded default, rename data/kesu.db) or drop its kesu_* tables, then restart"
        )


def migrate(engine: Engine) -> None:
    """Create or upgrade kesu's tables to the newest revision; a no-op when already there."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Workers starting together: the others wait here, then find nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        _refuse_unmanaged(connection)
        command.upgrade(alembic_config(connection), "head")


def require_current(engine: Engine) -> None:
    """Refuse to read a database whose schema is missing or older than this kesu."""
    with engine.connect() as connection:
        current = current_revision(connection)
    head = head_revision()
    if current is None:
        raise SchemaError(
            "the database has no kesu tables yet: start a worker (it creates them) "
            "or run `starter.py migrate`"
        )
    if current != head:
        raise SchemaError(
            f"the database schema is at revision {current}, this kesu needs {head}: "
            "run `starter.py migrate` (or start a worker)"
        )
