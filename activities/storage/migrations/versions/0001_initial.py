"""Cases, the hash-chained audit trail, outbox, assignments, clocks, satisfaction,
responsibility and case numbers.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Types are spelled out here rather than imported from kesu: a migration describes the schema
as it was written, whatever the models become later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[object]:
    return sa.Column("id", ID, autoincrement=True, nullable=False)


def _case_id(table: str) -> list[SchemaItem]:
    return [
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["kesu_case.case_id"], name=op.f(f"fk_{table}_case_id_kesu_case")
        ),
    ]


def _per_step(table: str, *columns: SchemaItem) -> None:
    """A table of rows a step derives: id, (case_id, seq) unique, then ``columns``."""
    op.create_table(
        table,
        _id(),
        *_case_id(table),
        sa.Column("seq", sa.Integer(), nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("case_id", "seq", name=op.f(f"uq_{table}_case_id_seq")),
    )


def upgrade() -> None:
    op.create_table(
        "kesu_case",
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("case_number", sa.String(40), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("stage", sa.String(100), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        _time("opened_at"),
        _time("updated_at"),
        _time("closed_at", nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_kesu_case")),
        sa.UniqueConstraint("case_number", name=op.f("uq_kesu_case_case_number")),
    )
    op.create_index(op.f("ix_kesu_case_assignee"), "kesu_case", ["assignee"])

    op.create_table(
        "kesu_case_number",
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "year", name=op.f("pk_kesu_case_number")),
    )

    _per_step(
        "kesu_case_event",
        sa.Column("event", sa.String(200), nullable=False),
        sa.Column("from_stage", sa.String(100), nullable=True),
        sa.Column("to_stage", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(100), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("notes", JSON, nullable=False),
        sa.Column("clocks", JSON, nullable=False),
        _time("at"),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
    )
    _per_step(
        "kesu_assignment",
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("previous", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        _time("at"),
    )
    _per_step(
        "kesu_satisfaction",
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        _time("at"),
    )
    _per_step(
        "kesu_responsibility",
        sa.Column("responsibility", sa.String(100), nullable=False),
        sa.Column("signed_off_by", sa.String(200), nullable=False),
        sa.Column("role", sa.String(100), nullable=True),
        _time("at"),
    )

    op.create_table(
        "kesu_clock",
        *_case_id("kesu_clock"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("target", sa.String(50), nullable=True),
        _time("started_at", nullable=True),
        _time("paused_at", nullable=True),
        sa.Column("paused_seconds", sa.Double(), nullable=False),
        _time("due_at", nullable=True),
        _time("stopped_at", nullable=True),
        _time("breached_at", nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "name", name=op.f("pk_kesu_clock")),
    )
    op.create_index(op.f("ix_kesu_clock_due_at"), "kesu_clock", ["due_at"])

    op.create_table(
        "kesu_outbox",
        _id(),
        *_case_id("kesu_outbox"),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("delivered_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("claimed_until", nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name=op.f("ck_kesu_outbox_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kesu_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_kesu_outbox_idempotency_key")),
    )
    op.create_index("ix_kesu_outbox_case_id_id", "kesu_outbox", ["case_id", "id"])
    op.create_index("ix_kesu_outbox_status_id", "kesu_outbox", ["status", "id"])


def downgrade() -> None:
    for table in (
        "kesu_outbox",
        "kesu_clock",
        "kesu_responsibility",
        "kesu_satisfaction",
        "kesu_assignment",
        "kesu_case_event",
        "kesu_case_number",
        "kesu_case",
    ):
        op.drop_table(table)
