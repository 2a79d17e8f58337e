"""Alembic's entry point for kesu: runs the migrations on the connection ``migrate`` hands over.

Offline mode (SQL scripts) is not supported: kesu migrates a live database at start-up.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from activities.storage import load_models
from activities.storage.migrations import VERSION_TABLE

config = context.config
connection = config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run kesu's migrations through activities.migrations.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=load_models(),
    version_table=VERSION_TABLE,
    # SQLite alters a table by copying it; batch mode lets later migrations do that.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
