"""Case review per care manager: a session's care manager and length; agenda items not reached

A session belongs to one care manager's caseload and has a length (minutes, minutes per patient);
its agenda holds what fits, the rest is kept as "not reached" and carried first into the care
manager's next session (`carried_from_id`). Sessions made before this have no care manager (they
covered the whole clinic) and no length of their own (the clinic policy's applies).

Columns are added in place (SQLite's ADD COLUMN, with its foreign key named as the models name
it): case_review_session is referred to by agenda items and recommendations, so it is not rebuilt.

Revision ID: 0010_case_review_sessions
Revises: 0008_password_must_change
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010_case_review_sessions"
down_revision = "0008_password_must_change"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE case_review_session ADD COLUMN care_manager_id INTEGER "
        'CONSTRAINT fk_case_review_session_care_manager_id_user REFERENCES "user" (id)'
    )
    op.execute("ALTER TABLE case_review_session ADD COLUMN minutes INTEGER")
    op.execute("ALTER TABLE case_review_session ADD COLUMN minutes_per_patient INTEGER")
    op.execute("ALTER TABLE agenda_item ADD COLUMN not_reached BOOLEAN DEFAULT '0' NOT NULL")
    op.execute(
        "ALTER TABLE agenda_item ADD COLUMN carried_from_id INTEGER "
        "CONSTRAINT fk_agenda_item_carried_from_id_case_review_session REFERENCES case_review_session (id)"
    )
    op.create_index("ix_case_review_session_cm_on", "case_review_session", ["care_manager_id", "session_on"])


def downgrade() -> None:
    op.drop_index("ix_case_review_session_cm_on", table_name="case_review_session")
    # SQLite ≥ 3.35 drops a plain column in place; a column with a foreign key needs the table rebuilt.
    with op.batch_alter_table("agenda_item", schema=None) as batch_op:
        batch_op.drop_column("carried_from_id")
        batch_op.drop_column("not_reached")
    with op.batch_alter_table("case_review_session", schema=None) as batch_op:
        batch_op.drop_column("care_manager_id")
        batch_op.drop_column("minutes")
        batch_op.drop_column("minutes_per_patient")
