"""Case review per care manager: a session's care manager and length; agenda items not reached

A session belongs to one care manager's caseload and has a length (minutes, minutes per patient);
its agenda holds what fits, the rest is kept as "not reached" and carried first into the care
manager's next session (`carried_from_id`). Sessions made before this have no care manager (they
covered the whole clinic) and no length of their own (the clinic policy's applies).

Plain columns, added and dropped in place (SQLite's ADD/DROP COLUMN; a column with a foreign key
could not be dropped without rebuilding the table, which agenda items and recommendations refer
to): the ids they hold are of users and sessions, which are never deleted.

Revision ID: 0010_case_review_sessions
Revises: 0009_corrections
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010_case_review_sessions"
down_revision = "0009_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE case_review_session ADD COLUMN care_manager_id INTEGER")
    op.execute("ALTER TABLE case_review_session ADD COLUMN minutes INTEGER")
    op.execute("ALTER TABLE case_review_session ADD COLUMN minutes_per_patient INTEGER")
    op.execute("ALTER TABLE agenda_item ADD COLUMN not_reached BOOLEAN DEFAULT '0' NOT NULL")
    op.execute("ALTER TABLE agenda_item ADD COLUMN carried_from_id INTEGER")
    op.create_index("ix_case_review_session_cm_on", "case_review_session", ["care_manager_id", "session_on"])


def downgrade() -> None:
    op.drop_index("ix_case_review_session_cm_on", table_name="case_review_session")
    for table, column in (("agenda_item", "carried_from_id"), ("agenda_item", "not_reached"),
                          ("case_review_session", "minutes_per_patient"), ("case_review_session", "minutes"),
                          ("case_review_session", "care_manager_id")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # SQLite ≥ 3.35: in place
