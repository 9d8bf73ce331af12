"""audit_log.signer and audit_log.sig: each record signed by the person whose session wrote it

From this revision on, a record's chain value is SHA-256 over the previous one, its content and
its signer, and it carries an Ed25519 signature by that person's signing key (sealed in their key
slot, out of reach of anyone holding only the database key). Records from before keep their HMAC
and are frozen by the first signed record, which chains to the last of them.

Revision ID: 0012_audit_signatures
Revises: 0011_billing_submissions
Create Date: 2026-12-05 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_audit_signatures"
down_revision = "0011_billing_submissions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("signer", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("sig", sa.String(88), nullable=True))
    # Sign-in folds the access grants and key bindings without walking the whole log.
    op.create_index("ix_audit_log_action", "audit_log", ["action"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_column("audit_log", "sig")
    op.drop_column("audit_log", "signer")
