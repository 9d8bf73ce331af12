"""corrections: void ("entered in error") and amend, with the history kept

Entries a person can make get `voided_at`, `voided_by_id` and `void_reason`: a voided entry stays
in the database and in the chart's history and counts nowhere. The table `correction` keeps every
void and amendment (object, what it was before and after, who, when, why).

The month and episode indexes on scores and contacts carry `voided_at`, so the reads that skip
voided entries (registry facts, month-end billing) are still answered from the index alone.
(Time entries already had their own void columns: deleted_at, deleted_by_id, delete_reason.)

Revision ID: 0009_corrections
Revises: 0008_password_must_change
Create Date: 2026-12-05 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_corrections"
down_revision = "0008_password_must_change"
branch_labels = None
depends_on = None

VOIDABLE = (
    "measure",
    "contact",
    "referral",
    "risk_event",
    "care_plan_version",
    "episode_status_change",
    "recommendation",
)
# (table, index, columns before, columns after)
_INDEXES = (
    ("measure", "ix_measure_episode_taken", ["episode_id", "taken_at", "instrument", "total"]),
    ("measure", "ix_measure_taken_episode", ["taken_at", "episode_id"]),
    ("contact", "ix_contact_at_episode", ["contact_at", "episode_id"]),
)


def upgrade() -> None:
    op.create_table(
        "correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("corrected_by_id", sa.Integer(), nullable=False),
        sa.Column("corrected_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["corrected_by_id"], ["user.id"], name=op.f("fk_correction_corrected_by_id_user")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_correction_patient_id_patient")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction")),
    )
    op.create_index("ix_correction_object", "correction", ["object_type", "object_id"], unique=False)
    op.create_index(op.f("ix_correction_patient_id"), "correction", ["patient_id"], unique=False)
    for table in VOIDABLE:
        # Plain ADD COLUMNs, no table rebuilt: a rebuild drops tables that other rows refer to
        # (foreign keys forbid it inside the migration's transaction) and copies 100k+ rows.
        # `voided_by_id` has no foreign key, like the audit log's user id: users are never deleted.
        op.add_column(table, sa.Column("voided_at", sa.DateTime(), nullable=True))
        op.add_column(table, sa.Column("voided_by_id", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("void_reason", sa.String(length=300), nullable=True))
    for table, name, columns in _INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [*columns, "voided_at"], unique=False)


def downgrade() -> None:
    for table, name, columns in _INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=False)
    for table in VOIDABLE:
        for column in ("void_reason", "voided_by_id", "voided_at"):
            # SQLite ≥ 3.35 drops a column in place (render_as_batch would rebuild the table)
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.drop_index(op.f("ix_correction_patient_id"), table_name="correction")
    op.drop_index("ix_correction_object", table_name="correction")
    op.drop_table("correction")
