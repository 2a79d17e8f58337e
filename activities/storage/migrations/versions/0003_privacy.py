"""Customer data protection: wrapped per-case data keys, records of unmasked reads, and
destruction requests with their approval.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "kesu_case_key",
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("master_key_id", sa.String(32), nullable=True),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        _time("created_at"),
        _time("destroyed_at", nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_kesu_case_key")),
    )
    op.create_index(op.f("ix_kesu_case_key_master_key_id"), "kesu_case_key", ["master_key_id"])
    op.create_table(
        "kesu_pii_access",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        _time("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kesu_pii_access")),
    )
    op.create_index(op.f("ix_kesu_pii_access_case_id"), "kesu_pii_access", ["case_id"])
    op.create_table(
        "kesu_destruction",
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_role", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _time("requested_at"),
        sa.Column("approved_by", sa.String(200), nullable=True),
        _time("approved_at", nullable=True),
        _time("history_deleted_at", nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_kesu_destruction")),
    )


def downgrade() -> None:
    for table in ("kesu_destruction", "kesu_pii_access", "kesu_case_key"):
        op.drop_table(table)
