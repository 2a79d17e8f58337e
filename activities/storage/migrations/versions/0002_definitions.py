"""The registry of published definition versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Types spelled out, as in 0001: a migration describes the schema as it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "kesu_definition",
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(300), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("calendars", JSON, nullable=False),
        sa.Column("templates", JSON, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name=op.f("pk_kesu_definition")),
        sa.UniqueConstraint("process", "version", name=op.f("uq_kesu_definition_process_version")),
    )


def downgrade() -> None:
    op.drop_table("kesu_definition")
