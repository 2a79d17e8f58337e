"""Template sources in the registry, and the definition each outbox message was made on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

A published version names its templates by content hash; the texts are stored here so that a
worker renders a message of a version it has no files for. An outbox row names the version
its step ran on, so that a message queued before an upgrade still renders with its own
version's templates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kesu_template",
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name=op.f("pk_kesu_template")),
    )
    with op.batch_alter_table("kesu_outbox") as batch:
        batch.add_column(sa.Column("content_hash", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kesu_outbox") as batch:
        batch.drop_column("content_hash")
    op.drop_table("kesu_template")
