"""A form's save applied once (services.submissions), on the file and on the server: the same
submission id sent again (Save again after a lost connection) finds the first save and writes
nothing; another form's save is its own."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.contacts import record_contact
from cocm_desktop.services.submissions import AlreadySaved, once
from cocm_desktop.store.models import AuditRecord, Contact, Submission


def _contact() -> dict[str, object]:
    return dict(contact_at=datetime(2026, 11, 20, 9, 0), mode="phone", kind="follow_up", next_step="Call again",
                next_step_on=date(2026, 12, 4), minutes=5)


def test_the_same_submission_is_saved_once_and_another_is_its_own(clinic, build) -> None:
    eid = build.episode(date(2026, 10, 1))
    cm1 = build.actors["cm1"]
    save = once(record_contact)
    with clinic.session() as s:
        first = save(s, cm1, eid, **_contact())
    with clinic.session() as s:
        again = save(s, cm1, eid, **_contact())
    assert isinstance(again, AlreadySaved)
    assert (again.object_id, again.action, again.request_id) == (first.id, "record_contact", save.request_id)
    with clinic.session() as s:
        other = once(record_contact)(s, cm1, eid, **_contact())  # a second form: a second contact
        assert not isinstance(other, AlreadySaved)
        assert s.scalar(select(func.count()).select_from(Contact).where(Contact.episode_id == eid)) == 2
        assert s.scalar(select(func.count()).select_from(AuditRecord)
                        .where(AuditRecord.action == "contact.create")) == 2
        row = s.get(Submission, save.request_id)
        assert row is not None and (row.user_id, row.object_id) == (cm1.user_id, first.id)


def test_a_refused_save_keeps_its_submission_id_unused(clinic, build) -> None:
    eid = build.episode(date(2026, 10, 1))
    cm1 = build.actors["cm1"]
    save = once(record_contact)
    bad = {**_contact(), "next_step": ""}
    with pytest.raises(ValidationError), clinic.session() as s:
        save(s, cm1, eid, **bad)
    with clinic.session() as s:
        assert s.get(Submission, save.request_id) is None
        result = save(s, cm1, eid, **_contact())  # corrected and saved with the same form
    assert not isinstance(result, AlreadySaved)
