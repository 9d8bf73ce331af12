"""safety closure, clinician notified (who and when), the rule-out attestation, duplicate patients

- `risk_event.notified_clinician_id` / `notified_at`: "clinician notified" says which clinician
  and when; `risk_event.step_reasons`: the documented reason of each protocol step not done when
  the event was closed ({step: reason}).
- `episode.risk_rule_out_attested_by_id` / `_at`: the clinician named as having ruled out urgent
  risk at enrollment confirms it (pending while empty).
- `patient.voided_at` / `voided_by_id` / `void_reason`: a patient entered twice is voided; the
  record stays, and leaves the registry, billing and packets.
- `recommendation.decision`: the clinician's decision (approved | modified | declined), kept after
  the loop moves on, so a "told patient" recorded in error goes back to the decision made.

Existing rows: a notified event names the episode's treating clinician, notified when it was
opened; a rule-out entered by the person it names counts as attested when the episode was made.
(Plain ADD COLUMNs: no table rebuilt, see 0009.)

Revision ID: 0013_safety_and_duplicates
Revises: 0012_audit_signatures
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_safety_and_duplicates"
down_revision = "0012_audit_signatures"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("risk_event", sa.Column("notified_clinician_id", sa.Integer(), nullable=True)),
    ("risk_event", sa.Column("notified_at", sa.DateTime(), nullable=True)),
    ("risk_event", sa.Column("step_reasons", sa.JSON(), nullable=True)),
    ("episode", sa.Column("risk_rule_out_attested_by_id", sa.Integer(), nullable=True)),
    ("episode", sa.Column("risk_rule_out_attested_at", sa.DateTime(), nullable=True)),
    ("patient", sa.Column("voided_at", sa.DateTime(), nullable=True)),
    ("patient", sa.Column("voided_by_id", sa.Integer(), nullable=True)),
    ("patient", sa.Column("void_reason", sa.String(length=300), nullable=True)),
    ("recommendation", sa.Column("decision", sa.String(length=16), nullable=True)),
)


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.add_column(table, column)
    risk = sa.table("risk_event", sa.column("episode_id", sa.Integer()), sa.column("clinician_notified", sa.Boolean()),
                    sa.column("notified_clinician_id", sa.Integer()), sa.column("notified_at", sa.DateTime()),
                    sa.column("opened_at", sa.DateTime()))
    episode = sa.table("episode", sa.column("id", sa.Integer()), sa.column("treating_clinician_id", sa.Integer()),
                       sa.column("urgent_risk_ruled_out_by_id", sa.Integer()), sa.column("created_by_id", sa.Integer()),
                       sa.column("created_at", sa.DateTime()),
                       sa.column("risk_rule_out_attested_by_id", sa.Integer()),
                       sa.column("risk_rule_out_attested_at", sa.DateTime()))
    clinician = (sa.select(episode.c.treating_clinician_id).where(episode.c.id == risk.c.episode_id)
                 .scalar_subquery())
    op.execute(risk.update().where(risk.c.clinician_notified.is_(True))
               .values(notified_clinician_id=clinician, notified_at=risk.c.opened_at))
    rec = sa.table("recommendation", sa.column("state", sa.String()), sa.column("decision", sa.String()),
                   sa.column("modified_text", sa.Text()), sa.column("decided_at", sa.DateTime()))
    op.execute(rec.update().where(rec.c.state.in_(("approved", "modified", "declined"))).values(decision=rec.c.state))
    op.execute(rec.update().where(rec.c.decision.is_(None), rec.c.decided_at.is_not(None),
                                  rec.c.modified_text.is_not(None)).values(decision="modified"))
    op.execute(episode.update().where(episode.c.urgent_risk_ruled_out_by_id == episode.c.created_by_id)
               .values(risk_rule_out_attested_by_id=episode.c.created_by_id,
                       risk_rule_out_attested_at=episode.c.created_at))


def downgrade() -> None:
    for table, column in reversed(_COLUMNS):
        # SQLite ≥ 3.35 drops a column in place (a batch rebuild would trip over foreign keys)
        op.drop_column(table, column.name)
