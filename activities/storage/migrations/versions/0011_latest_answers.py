"""Each case's latest answers (CSAT, NPS) and attribution (责任认定), on the case row: the
report counts them per case from the case row instead of finding the latest of each in its own
table (three look-ups, or three joins of a million cases); and an index of the attributions'
values, which the report counts each of.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PARTIES_INDEX = "ix_kesu_responsibility_responsibility"
LATEST: list[tuple[str, sa.types.TypeEngine[Any], str, str]] = [
    # (column, type, table the rows are in, column there)
    ("latest_csat", sa.Integer(), "kesu_satisfaction", "csat"),
    ("latest_nps", sa.Integer(), "kesu_satisfaction", "nps"),
    ("latest_responsibility", sa.String(100), "kesu_responsibility", "responsibility"),
]


def upgrade() -> None:
    for column, kind, _, _ in LATEST:
        op.add_column("kesu_case", sa.Column(column, kind))
    for column, _, table, source in LATEST:
        # Portable (SQLite and PostgreSQL); only the cases that have such rows are touched.
        op.execute(
            f"UPDATE kesu_case SET {column} = (SELECT r.{source} FROM {table} AS r"
            f" WHERE r.case_id = kesu_case.case_id AND r.{source} IS NOT NULL"
            " ORDER BY r.seq DESC LIMIT 1)"
            f" WHERE case_id IN (SELECT case_id FROM {table} WHERE {source} IS NOT NULL)"
        )
    # The attributions in use, found by a skip through it (the report counts each).
    op.create_index(PARTIES_INDEX, "kesu_responsibility", ["responsibility"])


def downgrade() -> None:
    op.drop_index(PARTIES_INDEX, table_name="kesu_responsibility")
    for column, _, _, _ in reversed(LATEST):
        op.drop_column("kesu_case", column)
