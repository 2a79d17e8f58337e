"""The schema comes from the Alembic migrations, on SQLite and PostgreSQL, and matches the
models exactly (autogenerate finds nothing to do)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from activities.storage import load_models, make_engine
from activities.storage.migrations import (
    VERSION_TABLE,
    SchemaError,
    current_revision,
    head_revision,
    migrate,
    require_current,
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_migrations_build_the_models_schema(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)  # a second start finds nothing to do
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, load_models()) == []
    require_current(engine)


def test_reading_an_empty_database_says_what_to_do(engine: Engine) -> None:
    with pytest.raises(SchemaError, match="no kesu tables yet: start a worker"):
        require_current(engine)


def test_tables_from_before_migrations_are_refused(engine: Engine) -> None:
    load_models().create_all(engine)  # as the old create_schema did
    with pytest.raises(SchemaError, match="from before schema migrations"):
        migrate(engine)
    assert VERSION_TABLE not in inspect(engine).get_table_names()


def test_an_older_revision_is_refused_until_migrated(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0000'"))
    with pytest.raises(SchemaError, match="at revision 0000"):
        require_current(engine)
