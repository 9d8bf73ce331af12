"""user.password_must_change; a demo clinic made before it is marked as demo

A password the clinic lead chose (new user, reset, reactivation) must be changed at the person's
first sign-in: the flag lives on the user row, set in the same transaction as the lead's action,
so it holds for the encrypted file and the clinic server alike. Existing users start without it.

A clinic made by the demo generator (it audits "demo.generate") gets the setting `demo` = true,
which the generator now writes itself: its logins keep the password "demo" without being asked
to change it.

Revision ID: 0008_password_must_change
Revises: 0007_measure_episode_cover
Create Date: 2026-12-05 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_password_must_change"
down_revision = "0007_measure_episode_cover"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it): the user table, which everything refers to, is not rebuilt.
    op.add_column(
        "user", sa.Column("password_must_change", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.execute(
        "INSERT INTO clinic_setting (key, value, updated_at) "
        "SELECT 'demo', 'true', CURRENT_TIMESTAMP "
        "WHERE EXISTS (SELECT 1 FROM audit_log WHERE action = 'demo.generate') "
        "AND NOT EXISTS (SELECT 1 FROM clinic_setting WHERE key = 'demo')"
    )


def downgrade() -> None:
    op.drop_column("user", "password_must_change")  # SQLite ≥ 3.35 drops a column in place
