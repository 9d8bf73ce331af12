"""registry_facts: per-episode cache of the registry facts

Derived data only: the table starts empty and the registry fills it on its next read.

Revision ID: 0003_registry_facts
Revises: 0002_time_entry_covering_index
Create Date: 2026-11-25 01:48:13.669396
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_registry_facts"
down_revision = "0002_time_entry_covering_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_facts",
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("remission_below", sa.Integer(), nullable=False),
        sa.Column("phq9_last", sa.Integer(), nullable=True),
        sa.Column("phq9_last_on", sa.Date(), nullable=True),
        sa.Column("phq9_prev", sa.Integer(), nullable=True),
        sa.Column("phq9_prev_on", sa.Date(), nullable=True),
        sa.Column("phq9_first", sa.Integer(), nullable=True),
        sa.Column("phq9_first_on", sa.Date(), nullable=True),
        sa.Column("gad7_last", sa.Integer(), nullable=True),
        sa.Column("gad7_last_on", sa.Date(), nullable=True),
        sa.Column("gad7_prev", sa.Integer(), nullable=True),
        sa.Column("gad7_prev_on", sa.Date(), nullable=True),
        sa.Column("gad7_first", sa.Integer(), nullable=True),
        sa.Column("gad7_first_on", sa.Date(), nullable=True),
        sa.Column("phq9_item9", sa.Integer(), nullable=True),
        sa.Column("remission_since", sa.Date(), nullable=True),
        sa.Column("has_contacts", sa.Boolean(), nullable=False),
        sa.Column("last_contact_on", sa.Date(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("open_question_since", sa.Date(), nullable=True),
        sa.Column("first_contact_on", sa.Date(), nullable=True),
        sa.Column("last_zero_lag_on", sa.Date(), nullable=True),
        sa.Column("lags", sa.JSON(), nullable=True),
        sa.Column("awaiting_approval_since", sa.Date(), nullable=True),
        sa.Column("approved_not_told_since", sa.Date(), nullable=True),
        sa.Column("open_loops", sa.Integer(), nullable=False),
        sa.Column("reviewed_days", sa.JSON(), nullable=True),
        sa.Column("referral_since", sa.Date(), nullable=True),
        sa.Column("risk_since", sa.Date(), nullable=True),
        sa.Column("has_consent", sa.Boolean(), nullable=False),
        sa.Column("has_care_plan", sa.Boolean(), nullable=False),
        sa.Column("billing_month", sa.Date(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("next_code", sa.String(length=16), nullable=True),
        sa.Column("minutes_needed", sa.Integer(), nullable=True),
        sa.Column("billing_label", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episode.id"], name=op.f("fk_registry_facts_episode_id_episode")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_registry_facts_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("episode_id", name=op.f("pk_registry_facts")),
    )
    with op.batch_alter_table("registry_facts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_facts_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registry_facts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_facts_patient_id"))

    op.drop_table("registry_facts")
