"""medications: schedule, why, who stopped it, dose-change chain, voids; proposed changes

Enrollment already kept the current medications as rows (name, dose, start); they stay as they are
(nothing is rewritten, their note is kept). Each line gains its schedule, the reason it began, the
line it replaced (a dose change), the recommendation behind it, who stopped it, when and why, and
the void columns of every correctable entry. Lines stopped before this revision get who stopped
them and when from their "medication.stop" audit record, so the history names a person.
`medication_proposal` holds the change an approved medication recommendation proposes until it is
applied to the list.

Revision ID: 0014_medications
Revises: 0013_safety_and_duplicates
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014_medications"
down_revision = "0013_safety_and_duplicates"
branch_labels = None
depends_on = None

_NEW_COLUMNS = (
    ("schedule", sa.String(length=120)),
    ("start_reason", sa.Text()),
    ("supersedes_id", sa.Integer()),
    ("recommendation_id", sa.Integer()),
    ("stopped_by_id", sa.Integer()),
    ("stop_recorded_at", sa.DateTime()),
    ("stop_reason", sa.Text()),
    ("stop_recommendation_id", sa.Integer()),
    ("voided_at", sa.DateTime()),
    ("voided_by_id", sa.Integer()),
    ("void_reason", sa.String(length=300)),
)


def _local(at_utc: datetime | None) -> datetime | None:
    """The audit keeps UTC; clinical times are the clinic's local time (this machine's)."""
    return None if at_utc is None else at_utc.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


def upgrade() -> None:
    # Plain ADD COLUMNs (no foreign keys): no table rebuilt, nothing copied.
    for name, type_ in _NEW_COLUMNS:
        op.add_column("medication", sa.Column(name, type_, nullable=True))
    # Who stopped a line, and when, from the audit record the old stop wrote (the newest wins if a
    # line was somehow stopped twice). Only service stops wrote one: a few rows, read once.
    audit = sa.table("audit_log", sa.column("seq", sa.Integer), sa.column("at_utc", sa.DateTime),
                     sa.column("user_id", sa.Integer), sa.column("action", sa.String),
                     sa.column("object_type", sa.String), sa.column("object_id", sa.Integer))
    med = sa.table("medication", sa.column("id", sa.Integer), sa.column("stopped_on", sa.Date),
                   sa.column("stopped_by_id", sa.Integer), sa.column("stop_recorded_at", sa.DateTime))
    conn = op.get_bind()
    stops = {row.object_id: row for row in conn.execute(
        sa.select(audit.c.object_id, audit.c.user_id, audit.c.at_utc)
        .where(audit.c.action == "medication.stop", audit.c.object_type == "medication")
        .order_by(audit.c.seq))}
    for line_id, stop in stops.items():
        conn.execute(med.update().where(med.c.id == line_id, med.c.stopped_on.is_not(None))
                     .values(stopped_by_id=stop.user_id, stop_recorded_at=_local(stop.at_utc)))
    op.create_table(
        "medication_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("drug", sa.String(length=200), nullable=False),
        sa.Column("dose", sa.String(length=120), nullable=True),
        sa.Column("schedule", sa.String(length=120), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.Column("applied_by_id", sa.Integer(), nullable=True),
        sa.Column("medication_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["episode_id"], ["episode.id"], name=op.f("fk_medication_proposal_episode_id_episode")),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["user.id"], name=op.f("fk_medication_proposal_proposed_by_id_user")),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendation.id"],
                                name=op.f("fk_medication_proposal_recommendation_id_recommendation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_proposal")),
        sa.UniqueConstraint("recommendation_id", name=op.f("uq_medication_proposal_recommendation_id")),
    )
    op.create_index("ix_medication_proposal_episode_state", "medication_proposal", ["episode_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_medication_proposal_episode_state", table_name="medication_proposal")
    op.drop_table("medication_proposal")
    for name, _type in reversed(_NEW_COLUMNS):
        # SQLite ≥ 3.35 and PostgreSQL both drop a column in place (no batch rebuild)
        op.execute(f"ALTER TABLE medication DROP COLUMN {name}")
