"""time_entry: index for the billing history overlap pass

Revision ID: 0004_time_entry_staff_day
Revises: 0003_registry_facts
Create Date: 2026-11-25 03:02:12.210811
"""

from __future__ import annotations

from alembic import op

revision = "0004_time_entry_staff_day"
down_revision = "0003_registry_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_time_entry_staff_day",
            [
                "local_date",
                "staff_id",
                "deleted_at",
                "started_at",
                "id",
                "ended_at",
                "patient_id",
                "episode_id",
                "minutes",
                "billed_elsewhere",
                "counts_as_care_management",
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entry_staff_day")
