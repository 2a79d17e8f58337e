"""Halted cases alert an operator through the outbox, even a case SQL never took: outbox rows
no longer need a case row (the alert for a refused opening step has none).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FOREIGN_KEY = "fk_kesu_outbox_case_id_kesu_case"


def upgrade() -> None:
    # Batch mode: SQLite drops a constraint by copying the table.
    with op.batch_alter_table("kesu_outbox") as table:
        table.drop_constraint(FOREIGN_KEY, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("kesu_outbox") as table:
        table.create_foreign_key(FOREIGN_KEY, "kesu_case", ["case_id"], ["case_id"])
