"""indexes for the month-end billing's month reads

The time entries' month index also carries activity and source, so the month's entries are read
from the index alone; contacts and scores get an index by time, so a month's counts per episode
do not read every contact and score of the clinic.

Revision ID: 0006_month_read_indexes
Revises: 0005_time_overlap_day
Create Date: 2026-11-25 04:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0006_month_read_indexes"
down_revision = "0005_time_overlap_day"
branch_labels = None
depends_on = None

_MONTH_COVER = [
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
]


def upgrade() -> None:
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entry_month_cover")
        batch_op.create_index("ix_time_entry_month_cover", [*_MONTH_COVER, "activity", "source"], unique=False)
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_at_episode", ["contact_at", "episode_id"], unique=False)
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.create_index("ix_measure_taken_episode", ["taken_at", "episode_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.drop_index("ix_measure_taken_episode")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_at_episode")
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entry_month_cover")
        batch_op.create_index("ix_time_entry_month_cover", _MONTH_COVER, unique=False)
