"""time_entry: covering index for the month read of services.billing_progress

Revision ID: 0002_time_entry_covering_index
Revises: 0001_baseline
Create Date: 2026-11-24 23:37:06.622588
"""

from __future__ import annotations

from alembic import op

revision = "0002_time_entry_covering_index"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_time_entry_month_cover",
            [
                "local_date",
                "patient_id",
                "episode_id",
                "staff_id",
                "minutes",
                "deleted_at",
                "billed_elsewhere",
                "counts_as_care_management",
                "started_at",
                "ended_at",
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entry_month_cover")
