"""Each case's running clock due first, on the case row, and an index of the open cases by it:
the overdue list reads one index entry per listed case instead of walking every running clock
(of closed cases too) and checking each against its case and its case's other clocks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXED = sa.text("next_due_at IS NOT NULL")
_DUE_FIRST = """
    SELECT {column} FROM kesu_clock AS k
    WHERE k.case_id = kesu_case.case_id AND k.due_at IS NOT NULL
    ORDER BY k.due_at, k.name LIMIT 1
"""


def upgrade() -> None:
    # Plain ALTER TABLE on both: a batch would copy kesu_case, which SQLite's foreign keys
    # from the other tables refuse to drop.
    op.add_column("kesu_case", sa.Column("next_due_at", sa.DateTime(timezone=True)))
    op.add_column("kesu_case", sa.Column("next_due_clock", sa.String(100)))
    op.add_column("kesu_case", sa.Column("next_due_breached", sa.Boolean()))
    # Only open cases with a running clock have one (portable: SQLite and PostgreSQL).
    op.execute(
        f"UPDATE kesu_case SET next_due_at = ({_DUE_FIRST.format(column='k.due_at')}),"
        f" next_due_clock = ({_DUE_FIRST.format(column='k.name')}),"
        f" next_due_breached = ({_DUE_FIRST.format(column='k.breached_at IS NOT NULL')})"
        " WHERE closed_at IS NULL"
        " AND case_id IN (SELECT case_id FROM kesu_clock WHERE due_at IS NOT NULL)"
    )
    op.create_index(
        "ix_kesu_case_overdue",
        "kesu_case",
        ["next_due_at", "case_id"],
        postgresql_include=["process"],  # a page by process from the index alone
        postgresql_where=INDEXED,
        sqlite_where=INDEXED,
    )


def downgrade() -> None:
    op.drop_index("ix_kesu_case_overdue", table_name="kesu_case")
    op.drop_column("kesu_case", "next_due_breached")
    op.drop_column("kesu_case", "next_due_clock")
    op.drop_column("kesu_case", "next_due_at")
