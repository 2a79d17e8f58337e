"""Indexes for reports at scale: cases by opening and closing time, steps by stage and event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_kesu_case_opened_at", "kesu_case", ["opened_at"]),
    ("ix_kesu_case_closed_at", "kesu_case", ["closed_at"]),
    ("ix_kesu_case_event_to_stage_case_id", "kesu_case_event", ["to_stage", "case_id"]),
    ("ix_kesu_case_event_event_case_id", "kesu_case_event", ["event", "case_id"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
