"""submission: the idempotency key of each saved form; running_timer.workstation

A save whose connection to the clinic server dropped while committing may have landed or not;
the form keeps its request id and "Save again" sends it again, so a `submission` row (written in
the same transaction as the save) means "already saved" and nothing is applied twice. A running
timer names the computer it runs on, so starting one elsewhere can say where.

Revision ID: 0017_submissions
Revises: 0016_record_versions
Create Date: 2026-12-05 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_submissions"
down_revision = "0016_record_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_submission_user_id_user")),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_submission")),
    )
    op.add_column("running_timer", sa.Column("workstation", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("running_timer") as batch:
        batch.drop_column("workstation")
    op.drop_table("submission")
