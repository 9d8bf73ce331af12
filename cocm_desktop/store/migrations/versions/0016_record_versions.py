"""row_version on every record edited in place: no lost edits between workstations

Each editable record carries a counter the store raises on every UPDATE (SQLAlchemy's
`version_id_col`: the UPDATE says `WHERE row_version = <what this session read>`). A form keeps
the version it showed; a save whose record moved on since is refused with the other person's
change instead of overwriting it. Existing rows start at 1 (a server default, so nothing is
rewritten row by row); store.row_seals leaves a version of 1 out of the row digest, so the seals
signed before this revision still hold.

Revision ID: 0016_record_versions
Revises: 0015_row_seals
Create Date: 2026-12-11 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_record_versions"
down_revision = "0015_row_seals"
branch_labels = None
depends_on = None

# Kept here, not imported: a migration states the schema of its own revision.
TABLES = (
    "agenda_item", "billing_submission", "care_plan_version", "case_review_session", "clinic_setting",
    "consent", "contact", "diagnosis", "episode", "episode_status_change", "measure", "medication",
    "medication_proposal", "patient", "payer_rule_set", "recommendation", "referral", "risk_event",
    "time_entry", "user",
)


def upgrade() -> None:
    # NOT NULL with a server default: a plain ADD COLUMN on both engines (SQLite allows it in
    # place; PostgreSQL fills the default without rewriting rows). Not batch mode: on SQLite it
    # would rebuild the table, and SQLite refuses to drop a table other rows refer to.
    for table in TABLES:
        op.add_column(table, sa.Column("row_version", sa.Integer(), nullable=False, server_default=sa.text("1")))


def downgrade() -> None:
    # A plain DROP COLUMN, the same statement on SQLite ≥ 3.35 and PostgreSQL: Alembic on SQLite
    # would rebuild each table, and SQLite refuses to drop a table other rows refer to.
    quote = op.get_bind().dialect.identifier_preparer.quote
    for table in TABLES:
        op.execute(f"ALTER TABLE {quote(table)} DROP COLUMN row_version")
