"""measure: the episode index carries scale and total

An episode's scores (the registry's facts, month-end "not improving") are then read from the
index alone instead of every score row with its item answers.

Revision ID: 0007_measure_episode_cover
Revises: 0006_month_read_indexes
Create Date: 2026-11-25 04:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0007_measure_episode_cover"
down_revision = "0006_month_read_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.drop_index("ix_measure_episode_taken")
        batch_op.create_index(
            "ix_measure_episode_taken", ["episode_id", "taken_at", "instrument", "total"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.drop_index("ix_measure_episode_taken")
        batch_op.create_index("ix_measure_episode_taken", ["episode_id", "taken_at"], unique=False)
