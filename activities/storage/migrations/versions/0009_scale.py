"""Indexes for reports and the overdue list at a million cases: each case's latest answers and
attribution from the index alone, clock names by a skip through an index, and running clocks
by due time (partial: stopped and paused clocks have none).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RUNNING = sa.text("due_at IS NOT NULL")
INDEXES: list[tuple[str, str, list[str], sa.TextClause | None]] = [
    ("ix_kesu_clock_running_due", "kesu_clock", ["due_at", "case_id", "name"], RUNNING),
    ("ix_kesu_clock_name", "kesu_clock", ["name"], None),
    ("ix_kesu_satisfaction_case_id_seq_answers", "kesu_satisfaction",
     ["case_id", "seq", "csat", "nps"], None),
    ("ix_kesu_responsibility_case_id_seq_party", "kesu_responsibility",
     ["case_id", "seq", "responsibility"], None),
]  # fmt: skip


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        op.create_index(name, table, columns, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, table, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
