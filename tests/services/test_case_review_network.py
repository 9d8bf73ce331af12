"""The demo as a network: a weekly session per care manager with their consultant, small agendas,
and the next agendas built by the demo generator (audited as "system", not as a care manager)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from cocm_desktop.demo import generate_demo
from cocm_desktop.demo.staff import CARE_MANAGERS_PER_CONSULTANT, PATIENTS_PER_CARE_MANAGER
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AgendaItem, AuditRecord, CaseReviewSession, Episode, User

TODAY = date(2026, 11, 24)


def test_small_demo_next_agendas_are_built_by_the_system(demo_path: Path) -> None:
    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        built = s.execute(select(AuditRecord.username, AuditRecord.user_id, AuditRecord.summary)
                          .where(AuditRecord.action == "case_review.agenda")).all()
        signed_in = s.scalars(select(AuditRecord.username).where(AuditRecord.action.like("%sign%"))).all()
        upcoming = s.execute(select(CaseReviewSession.care_manager_id, User.username)
                             .join(User, User.id == CaseReviewSession.care_manager_id)
                             .where(CaseReviewSession.held.is_(False))).all()
    assert sorted(u for _id, u in upcoming) == ["cm1", "cm2"]  # one next session per care manager
    assert built == [("system", None, "Agenda built by the demo generator")] * 2
    assert "cm1" not in signed_in


def test_a_network_demo_has_small_weekly_agendas_per_care_manager(tmp_path: Path) -> None:
    patients = 1500
    generate_demo(tmp_path / "net.db", patients=patients, seed=3, today=TODAY)
    with Database.open(tmp_path / "net.db", "lead", "demo") as db, db.session() as s:
        cms = s.scalar(select(func.count()).where(User.role == "care_manager"))
        consultants = s.scalar(select(func.count()).where(User.role == "psychiatrist"))
        open_eps = s.scalar(select(func.count()).where(Episode.status.in_(("enrolled", "active",
                                                                            "relapse_prevention"))))
        per_cm = dict(s.execute(select(CaseReviewSession.care_manager_id, func.count())
                                .group_by(CaseReviewSession.care_manager_id)).all())
        nxt = s.execute(select(CaseReviewSession.id, CaseReviewSession.consultant_id)
                        .where(CaseReviewSession.held.is_(False))).all()
        sizes = dict(s.execute(select(AgendaItem.session_id, func.count())
                               .where(AgendaItem.session_id.in_([r[0] for r in nxt]),
                                      AgendaItem.not_reached.is_(False), AgendaItem.removed.is_(False))
                               .group_by(AgendaItem.session_id)).all())
        held_sizes = s.execute(select(func.count()).select_from(AgendaItem)
                               .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
                               .where(CaseReviewSession.held.is_(True), AgendaItem.not_reached.is_(False))
                               .group_by(AgendaItem.session_id)).scalars().all()
    assert cms == math.ceil(patients / PATIENTS_PER_CARE_MANAGER) == 14
    assert 60 <= open_eps / cms <= 90, open_eps / cms  # about one care manager per 60–90 open episodes
    assert consultants == math.ceil(cms / CARE_MANAGERS_PER_CONSULTANT) == 2
    assert len(per_cm) == cms and min(per_cm.values()) >= 50  # weekly for a year
    assert len(nxt) == cms and len({c for _sid, c in nxt}) == consultants  # every consultant has sessions
    assert max(sizes.values()) <= 10 and max(held_sizes) <= 10  # an hour each, never one agenda of hundreds
