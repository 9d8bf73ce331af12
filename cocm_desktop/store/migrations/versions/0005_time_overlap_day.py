"""time_overlap_day, and indexes for the billing history's unusual entries

`time_overlap_day` lists the staff days on which one person's live timed entries overlap
(derived; store.overlap_days keeps it current from here on). It is filled here from the
existing entries, with the same rule written out in SQL so this step never changes.

Revision ID: 0005_time_overlap_day
Revises: 0004_time_entry_staff_day
Create Date: 2026-11-25 03:52:37.281047
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_time_overlap_day"
down_revision = "0004_time_entry_staff_day"
branch_labels = None
depends_on = None

_UNUSUAL = "deleted_at IS NOT NULL OR episode_id IS NULL OR minutes <= 0 OR billed_elsewhere != ''"


def upgrade() -> None:
    op.create_table(
        "time_overlap_day",
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["user.id"], name=op.f("fk_time_overlap_day_staff_id_user")),
        sa.PrimaryKeyConstraint("local_date", "staff_id", name=op.f("pk_time_overlap_day")),
    )
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_time_entry_staff",
            ["staff_id", "counts_as_care_management", "local_date", "patient_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_time_entry_unusual",
            ["local_date", "patient_id"],
            unique=False,
            sqlite_where=sa.text(_UNUSUAL),
            postgresql_where=sa.text(_UNUSUAL),
        )
    op.execute(
        """
        INSERT INTO time_overlap_day (local_date, staff_id)
        SELECT DISTINCT local_date, staff_id FROM (
            SELECT local_date, staff_id, started_at,
                   lag(ended_at) OVER (PARTITION BY local_date, staff_id ORDER BY started_at, id) AS previous_end
            FROM time_entry
            WHERE deleted_at IS NULL AND started_at IS NOT NULL AND ended_at IS NOT NULL
        ) AS timed
        WHERE previous_end > started_at
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entry_unusual")
        batch_op.drop_index("ix_time_entry_staff")
    op.drop_table("time_overlap_day")
