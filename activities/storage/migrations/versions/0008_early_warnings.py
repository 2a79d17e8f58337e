"""Early warnings (投诉预防): the cases each rule counted, and the warnings raised (one per
rule, value and window).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "kesu_warning_case",
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        _time("window_start"),
        _time("opened_at"),
        sa.PrimaryKeyConstraint("rule", "case_id", name=op.f("pk_kesu_warning_case")),
    )
    op.create_index(
        "ix_kesu_warning_case_rule_key_window",
        "kesu_warning_case",
        ["rule", "key", "window_start"],
    )
    op.create_table(
        "kesu_early_warning",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        _time("window_start"),
        _time("window_end"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        _time("raised_at"),
        sa.Column("recipients", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kesu_early_warning")),
        sa.UniqueConstraint(
            "rule", "key", "window_start", name=op.f("uq_kesu_early_warning_rule_key_window_start")
        ),
    )
    op.create_index(op.f("ix_kesu_early_warning_raised_at"), "kesu_early_warning", ["raised_at"])


def downgrade() -> None:
    op.drop_table("kesu_early_warning")
    op.drop_index("ix_kesu_warning_case_rule_key_window", table_name="kesu_warning_case")
    op.drop_table("kesu_warning_case")
