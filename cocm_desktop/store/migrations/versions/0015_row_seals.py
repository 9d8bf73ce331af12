"""audit_log.rows: the digest of every clinical row a record's transaction created or changed

Each record that writes clinical rows carries, signed with it, a digest of each of those rows as
they were committed (store.row_seals); `audit verify` recomputes every row's digest and compares
it with the newest record naming that row, so a row changed, added or deleted directly in SQL
is named. Rows from before this revision are sealed by one signed baseline record, written at
the first sign-in after the upgrade.

Revision ID: 0015_row_seals
Revises: 0014_medications
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_row_seals"
down_revision = "0014_medications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("rows", sa.Text(), nullable=True))
    # Sign-in asks "has any record sealed rows yet?" without walking the log.
    op.create_index("ix_audit_log_rows", "audit_log", ["seq"],
                    sqlite_where=sa.text("rows IS NOT NULL"), postgresql_where=sa.text("rows IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_audit_log_rows", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("rows")
