"""billing_submission, its lines and the acknowledged adjustments

The clinic lead marks a billing month submitted: a snapshot of codes and minutes per
patient-month (billing_submission_line). Later corrections that change a submitted month are
listed as adjustments until the lead acknowledges them (billing_adjustment_ack, appended only).

Revision ID: 0011_billing_submissions
Revises: 0010_case_review_sessions
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_billing_submissions"
down_revision = "0010_case_review_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["user.id"],
                                name=op.f("fk_billing_submission_submitted_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_submission")),
        sa.UniqueConstraint("month", name=op.f("uq_billing_submission_month")),
    )
    op.create_table(
        "billing_submission_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=True),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("counted_minutes", sa.Integer(), nullable=False),
        sa.Column("logged_minutes", sa.Integer(), nullable=False),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["episode_id"], ["episode.id"],
                                name=op.f("fk_billing_submission_line_episode_id_episode")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"],
                                name=op.f("fk_billing_submission_line_patient_id_patient")),
        sa.ForeignKeyConstraint(["practitioner_id"], ["user.id"],
                                name=op.f("fk_billing_submission_line_practitioner_id_user")),
        sa.ForeignKeyConstraint(["submission_id"], ["billing_submission.id"],
                                name=op.f("fk_billing_submission_line_submission_id_billing_submission")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_submission_line")),
        sa.UniqueConstraint("submission_id", "patient_id", name=op.f("uq_billing_submission_line_submission_id")),
    )
    op.create_table(
        "billing_adjustment_ack",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("codes_before", sa.JSON(), nullable=False),
        sa.Column("status_before", sa.String(length=16), nullable=False),
        sa.Column("minutes_before", sa.Integer(), nullable=False),
        sa.Column("codes_after", sa.JSON(), nullable=False),
        sa.Column("status_after", sa.String(length=16), nullable=False),
        sa.Column("minutes_after", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["user.id"],
                                name=op.f("fk_billing_adjustment_ack_acknowledged_by_id_user")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"],
                                name=op.f("fk_billing_adjustment_ack_patient_id_patient")),
        sa.ForeignKeyConstraint(["submission_id"], ["billing_submission.id"],
                                name=op.f("fk_billing_adjustment_ack_submission_id_billing_submission")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_adjustment_ack")),
    )
    op.create_index("ix_billing_adjustment_ack_submission_patient", "billing_adjustment_ack",
                    ["submission_id", "patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_billing_adjustment_ack_submission_patient", table_name="billing_adjustment_ack")
    op.drop_table("billing_adjustment_ack")
    op.drop_table("billing_submission_line")
    op.drop_table("billing_submission")
