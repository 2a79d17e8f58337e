"""Duplicates, merges and group complaints: each case's customer-and-category identity as keyed
hashes (indexed for the duplicate lookup), merged duplicates, groups and their members.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _case_key(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["kesu_case.case_id"], name=op.f(f"fk_{table}_{column}_kesu_case")
    )


def upgrade() -> None:
    op.create_table(
        "kesu_case_identity",
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("match_hash", sa.String(64), nullable=False),
        _time("opened_at"),
        _case_key("kesu_case_identity", "case_id"),
        sa.PrimaryKeyConstraint("case_id", "key_id", name=op.f("pk_kesu_case_identity")),
    )
    op.create_index(
        "ix_kesu_case_identity_match",
        "kesu_case_identity",
        ["process", "match_hash", "opened_at"],
    )
    op.create_table(
        "kesu_case_merge",
        sa.Column("duplicate_id", sa.String(200), nullable=False),
        sa.Column("primary_id", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _time("merged_at"),
        _case_key("kesu_case_merge", "duplicate_id"),
        sa.PrimaryKeyConstraint("duplicate_id", name=op.f("pk_kesu_case_merge")),
    )
    op.create_index(op.f("ix_kesu_case_merge_primary_id"), "kesu_case_merge", ["primary_id"])
    op.create_table(
        "kesu_case_group",
        sa.Column("group_id", sa.String(100), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_kesu_case_group")),
    )
    op.create_table(
        "kesu_case_group_member",
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("group_id", sa.String(100), nullable=False),
        _time("added_at"),
        _case_key("kesu_case_group_member", "case_id"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["kesu_case_group.group_id"],
            name=op.f("fk_kesu_case_group_member_group_id_kesu_case_group"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_kesu_case_group_member")),
    )
    op.create_index(
        op.f("ix_kesu_case_group_member_group_id"), "kesu_case_group_member", ["group_id"]
    )


def downgrade() -> None:
    op.drop_table("kesu_case_group_member")
    op.drop_table("kesu_case_group")
    op.drop_table("kesu_case_merge")
    op.drop_table("kesu_case_identity")
