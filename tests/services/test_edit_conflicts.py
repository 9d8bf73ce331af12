"""No lost edits (issue 17 item 3): two people open the same record; the second to save is told
plainly who changed it, when and what, and nothing of the first save is lost; after re-reading,
the second person's save goes through. Each kind of record edited in place, on both engines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cocm_desktop.services import chart, contacts, measures, medications, patients, referrals, time_log
from cocm_desktop.services.common import EditConflict
from cocm_desktop.store.models import Contact, Correction, Measure, Medication, Patient, Referral, TimeEntry

from .conftest import TODAY, Builder, items_for

DAY = TODAY - timedelta(days=3)


@dataclass
class Kind:
    """One kind of record: how it is made, read as a form reads it, edited by A and by B."""

    make: Callable[[Builder], tuple[int, int]]  # → (record id, patient id)
    read: Callable[[Builder, str, int, int], int]  # (b, who, record id, patient id) → version shown
    edit_a: Callable[[Builder, str, int, int | None], Any]  # the first person's change
    edit_b: Callable[[Builder, str, int, int | None], Any]  # the second person's change
    b_kept: Callable[[Any, int], bool]  # (session, id): the first person's change is stored
    a_kept: Callable[[Any, int], bool]  # (session, id): the second person's change is stored (after the retry)
    said: tuple[str, ...]  # what the conflict message must say (besides who)
    a: str = "cm1"  # first to save
    b: str = "doc1"  # second to save (the one refused)


def _episode(b: Builder) -> tuple[int, int]:
    ep = b.episode(TODAY - timedelta(weeks=6), baseline=16)
    with b.db.session() as s:
        from cocm_desktop.store.models import Episode

        return ep, s.get(Episode, ep).patient_id  # type: ignore[union-attr]


def _chart(b: Builder, who: str, pid: int) -> chart.Chart:
    return b.call(chart.open_chart, who, patient_id=pid, today=TODAY)


def _make_contact(b: Builder) -> tuple[int, int]:
    ep, pid = _episode(b)
    return b.contact(ep, DAY, minutes=20).id, pid


def _make_measure(b: Builder) -> tuple[int, int]:
    ep, pid = _episode(b)
    return b.measure(ep, DAY, 14).id, pid


def _make_time(b: Builder) -> tuple[int, int]:
    ep, pid = _episode(b)
    entries = b.call(time_log.add_manual_time, "cm1", patient_id=pid, activity="care_coordination", minutes=30,
                     local_date=DAY, episode_id=ep, now=b.now)
    return entries[0].id, pid


def _make_patient(b: Builder) -> tuple[int, int]:
    _ep, pid = _episode(b)
    return pid, pid


def _make_referral(b: Builder) -> tuple[int, int]:
    ep, pid = _episode(b)
    ref = b.call(referrals.add_referral, "cm1", ep, to_whom="Sleep clinic", reason="Insomnia", referred_on=DAY,
                 now=b.now)
    return ref.id, pid


def _make_medication(b: Builder) -> tuple[int, int]:
    ep, pid = _episode(b)
    med = b.call(medications.add_medication, "cm1", ep, name="Sertraline", dose="50 mg", started_on=DAY, now=b.now)
    return med.id, pid


KINDS = {
    "contact": Kind(
        make=_make_contact,
        read=lambda b, who, cid, pid: next(c for c in _chart(b, who, pid).contacts if c.id == cid).row_version,
        edit_a=lambda b, who, cid, v: b.call(contacts.amend_contact, who, cid, reason="Call was longer",
                                             minutes=25, expected_version=v, now=b.now),
        edit_b=lambda b, who, cid, v: b.call(contacts.amend_contact, who, cid, reason="Wrong mode",
                                             mode="video", expected_version=v, now=b.now),
        b_kept=lambda s, cid: s.get(Contact, cid).minutes == 25,
        a_kept=lambda s, cid: s.get(Contact, cid).mode == "video",
        said=("changed this contact", "minutes 20 → 25"),
    ),
    "measure": Kind(
        make=_make_measure,
        read=lambda b, who, mid, pid: next(m for m in _chart(b, who, pid).measures if m.id == mid).row_version,
        edit_a=lambda b, who, mid, v: b.call(measures.amend_measure, who, mid, reason="Misread item 1",
                                             items=items_for("PHQ-9", 15), expected_version=v, now=b.now),
        edit_b=lambda b, who, mid, v: b.call(measures.amend_measure, who, mid, reason="Taken earlier",
                                             taken_at=b.at(DAY, 9), expected_version=v, now=b.now),
        b_kept=lambda s, mid: s.get(Measure, mid).total == 15,
        a_kept=lambda s, mid: s.get(Measure, mid).taken_at == Builder.at(DAY, 9),
        said=("changed this score", "total 14 → 15"),
    ),
    "time_entry": Kind(
        make=_make_time,
        read=lambda b, who, tid, pid: b.call(time_log.get_time_entry, who, tid).row_version,
        edit_a=lambda b, who, tid, v: b.call(time_log.update_time_entry, who, tid, reason="Was 35",
                                             minutes=35, expected_version=v, now=b.now),
        edit_b=lambda b, who, tid, v: b.call(time_log.update_time_entry, who, tid, reason="Other day",
                                             local_date=DAY - timedelta(days=1), expected_version=v, now=b.now),
        b_kept=lambda s, tid: s.get(TimeEntry, tid).minutes == 35,
        a_kept=lambda s, tid: s.get(TimeEntry, tid).local_date == DAY - timedelta(days=1),
        said=("changed this time entry", "minutes 30 → 35"),
        a="cm1", b="lead",
    ),
    "patient": Kind(
        make=_make_patient,
        read=lambda b, who, pid, _p: _chart(b, who, pid).patient.row_version,
        edit_a=lambda b, who, pid, v: b.call(patients.update_patient, who, pid, reason="New number",
                                             phone="555-0101", expected_version=v, now=b.now),
        edit_b=lambda b, who, pid, v: b.call(patients.update_patient, who, pid, reason="Portal user",
                                             portal=True, expected_version=v, now=b.now),
        b_kept=lambda s, pid: s.get(Patient, pid).phone == "555-0101",
        a_kept=lambda s, pid: s.get(Patient, pid).portal is True,
        # who and which detail, never the value (a phone number identifies the patient)
        said=("changed this patient's details", "phone edited"),
    ),
    "referral": Kind(
        make=_make_referral,
        read=lambda b, who, rid, pid: next(r for r in _chart(b, who, pid).referrals if r.id == rid).row_version,
        edit_a=lambda b, who, rid, v: b.call(referrals.amend_referral, who, rid, reason="Scheduled already",
                                             status="scheduled", expected_version=v, now=b.now),
        edit_b=lambda b, who, rid, v: b.call(referrals.amend_referral, who, rid, reason="Other clinic",
                                             to_whom="Sleep centre", expected_version=v, now=b.now),
        b_kept=lambda s, rid: s.get(Referral, rid).status == "scheduled",
        a_kept=lambda s, rid: s.get(Referral, rid).to_whom == "Sleep centre",
        said=("changed this referral", "status sent → scheduled"),
    ),
    "medication": Kind(
        make=_make_medication,
        read=lambda b, who, mid, pid: next(m for m in _chart(b, who, pid).medications if m.id == mid).row_version,
        edit_a=lambda b, who, mid, v: b.call(medications.amend_medication, who, mid, reason="Typo in the dose",
                                             dose="100 mg", expected_version=v, now=b.now),
        edit_b=lambda b, who, mid, v: b.call(medications.amend_medication, who, mid, reason="At night",
                                             schedule="at night", expected_version=v, now=b.now),
        b_kept=lambda s, mid: s.get(Medication, mid).dose == "100 mg",
        a_kept=lambda s, mid: s.get(Medication, mid).schedule == "at night",
        said=("changed this medication", "dose 50 mg → 100 mg"),
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_second_save_of_a_record_both_opened_is_refused_plainly_and_loses_nothing(build, kind: str) -> None:  # type: ignore[no-untyped-def]
    k = KINDS[kind]
    rid, pid = k.make(build)
    seen_a = k.read(build, k.a, rid, pid)  # A opens the form
    seen_b = k.read(build, k.b, rid, pid)  # B opens the same record
    assert seen_a == seen_b
    corrections_before = _corrections(build, kind, rid)

    k.edit_a(build, k.a, rid, seen_a)  # A saves first
    with pytest.raises(EditConflict) as caught:
        k.edit_b(build, k.b, rid, seen_b)  # B saves what B saw: refused
    message = str(caught.value)
    assert message.startswith(build.actors[k.a].display_name + " ")
    for part in k.said:
        assert part in message
    assert "after you opened it" in message and "Your change was not saved" in message

    with build.db.session() as s:
        assert k.b_kept(s, rid)  # A's change is there
        assert not k.a_kept(s, rid)  # B's was not written over it
    assert _corrections(build, kind, rid) == corrections_before + 1  # A's only: B wrote no history either

    again = k.read(build, k.b, rid, pid)  # B re-opens: sees A's change and its version
    assert again == seen_b + 1
    k.edit_b(build, k.b, rid, again)
    with build.db.session() as s:
        assert k.b_kept(s, rid) and k.a_kept(s, rid)  # both changes stand


def _corrections(b: Builder, kind: str, rid: int) -> int:
    with b.db.session() as s:
        return len(list(s.scalars(select(Correction.id).where(Correction.object_type == kind,
                                                              Correction.object_id == rid))))


def test_a_save_without_a_version_is_not_checked(build) -> None:  # type: ignore[no-untyped-def]
    """Commands and callers that did not show the record first pass no version: saved as before."""
    cid, _pid = _make_contact(build)
    build.call(contacts.amend_contact, "cm1", cid, reason="Longer", minutes=25, now=build.now)
    build.call(contacts.amend_contact, "doc1", cid, reason="Video", mode="video", now=build.now)
    with build.db.session() as s:
        row = s.get(Contact, cid)
        assert (row.minutes, row.mode, row.row_version) == (25, "video", 3)


def test_saving_over_your_own_change_in_another_window_says_so(build) -> None:  # type: ignore[no-untyped-def]
    cid, pid = _make_contact(build)
    seen = KINDS["contact"].read(build, "cm1", cid, pid)
    build.call(contacts.amend_contact, "cm1", cid, reason="Longer", minutes=25, expected_version=seen, now=build.now)
    with pytest.raises(EditConflict, match=r"^You changed this contact in another window at \d\d:\d\d "
                                           r"\(minutes 20 → 25\) after you opened it here\."):
        build.call(contacts.amend_contact, "cm1", cid, reason="Video", mode="video", expected_version=seen,
                   now=build.now)


def test_a_void_after_someone_else_changed_the_record_is_refused_too(build) -> None:  # type: ignore[no-untyped-def]
    mid, pid = _make_measure(build)
    seen = KINDS["measure"].read(build, "doc1", mid, pid)
    KINDS["measure"].edit_a(build, "cm1", mid, seen)
    with pytest.raises(EditConflict, match="total 14 → 15"):
        build.call(measures.void_measure, "doc1", mid, reason="Wrong patient", expected_version=seen, now=build.now)
    with build.db.session() as s:
        assert s.get(Measure, mid).voided_at is None


def test_an_edit_after_a_void_names_the_void(build) -> None:  # type: ignore[no-untyped-def]
    tid, _pid = _make_time(build)
    seen = build.call(time_log.get_time_entry, "lead", tid).row_version
    build.call(time_log.delete_time_entry, "cm1", tid, "Logged twice", expected_version=seen, now=build.now)
    with pytest.raises(EditConflict, match=r"voided this time entry .*\(entered in error\)"):
        build.call(time_log.update_time_entry, "lead", tid, reason="Was 35", minutes=35, expected_version=seen,
                   now=build.now)


def test_versions_count_saves_and_start_at_one(build) -> None:  # type: ignore[no-untyped-def]
    cid, pid = _make_contact(build)
    assert KINDS["contact"].read(build, "cm1", cid, pid) == 1
    for n, minutes in enumerate((21, 22, 23), start=2):
        build.call(contacts.amend_contact, "cm1", cid, reason="Fix", minutes=minutes, expected_version=n - 1,
                   now=build.now)
        assert KINDS["contact"].read(build, "cm1", cid, pid) == n



# ---- two workstations on the clinic server: each person on their own connection ------------------


def test_two_workstations_on_the_server_never_overwrite_each_other(server_profile) -> None:  # type: ignore[no-untyped-def]
    """cm1 and doc1 each signed in on their own connection: the form-read check, the save that
    races another one already in flight (the row is held from the check to the commit, so the
    second save waits and is then refused), and a session that read the row before the other
    commit and writes after it (the UPDATE's version guard)."""
    import threading

    from cocm_desktop.store.server_database import ServerDatabase

    dbs = {u: ServerDatabase.open(server_profile, u, "demo") for u in ("cm1", "doc1")}
    try:
        actors = {u: db.actor for u, db in dbs.items()}

        class _Team:
            who = "cm1"

            def session(self):  # type: ignore[no-untyped-def]
                return dbs[self.who].session()

        team = _Team()
        b = Builder(team, actors)  # type: ignore[arg-type]
        team.who = "doc1"
        pid = b.patient(by="doc1")
        ep = b.episode(TODAY - timedelta(weeks=6), by="doc1", baseline=16, patient_id=pid)
        team.who = "cm1"
        cid = b.contact(ep, DAY, minutes=20).id

        # 1. both read version 1; cm1 saves; doc1's save of what doc1 saw is refused
        team.who = "cm1"
        b.call(contacts.amend_contact, "cm1", cid, reason="Longer", minutes=25, expected_version=1, now=b.now)
        team.who = "doc1"
        with pytest.raises(EditConflict, match=r"changed this contact at .* \(minutes 20 → 25\)"):
            b.call(contacts.amend_contact, "doc1", cid, reason="Video", mode="video", expected_version=1, now=b.now)

        # 2. cm1's save is in flight (checked, not yet committed) when doc1 saves the same version
        checked = threading.Event()
        outcome: dict[str, BaseException | None] = {}

        def doc1_saves() -> None:
            checked.wait(10)
            try:
                with dbs["doc1"].session() as s:
                    contacts.amend_contact(s, actors["doc1"], cid, reason="Video", mode="video",
                                           expected_version=2, now=b.now)
                outcome["doc1"] = None
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                outcome["doc1"] = exc

        other = threading.Thread(target=doc1_saves)
        other.start()
        with dbs["cm1"].session() as s:
            from cocm_desktop.services.versions import expect_version

            row = s.get(Contact, cid)
            expect_version(s, actors["cm1"], row, 2)  # the row is held from here to the commit
            checked.set()
            other.join(0.5)
            assert other.is_alive()  # doc1's save waits for this one
            contacts.amend_contact(s, actors["cm1"], cid, reason="Longer still", minutes=30, expected_version=2,
                                   now=b.now)
        other.join(10)
        assert isinstance(outcome["doc1"], EditConflict) and "minutes 25 → 30" in str(outcome["doc1"])

        # 3. no form version at all: a session that read the row before another commit cannot write over it
        stale = pytest.raises(EditConflict, match="Someone else changed this record while you were saving it")
        with stale, dbs["doc1"].session() as s:
            row = s.get(Contact, cid)
            assert row.row_version == 3
            with dbs["cm1"].session() as s2:
                contacts.amend_contact(s2, actors["cm1"], cid, reason="Back to 20", minutes=20, now=b.now)
            row.summary = "Written over a newer save"
        with dbs["cm1"].session() as s:
            row = s.get(Contact, cid)
            assert (row.minutes, row.mode, row.summary, row.row_version) == (20, "phone", None, 4)

        # doc1 re-reads and saves: it goes through on top of every earlier change
        with dbs["doc1"].session() as s:
            contacts.amend_contact(s, actors["doc1"], cid, reason="Video", mode="video", expected_version=4, now=b.now)
        with dbs["cm1"].session() as s:
            row = s.get(Contact, cid)
            assert (row.minutes, row.mode, row.row_version) == (20, "video", 5)
    finally:
        for db in dbs.values():
            db.close()


def test_two_contacts_for_one_patient_saved_at_once_on_the_server_both_stand(server_profile) -> None:  # type: ignore[no-untyped-def]
    """A new contact moves the episode's next action: the second of two saved at the same moment
    waits for the first (the episode row is held) instead of failing on the episode's version."""
    import threading

    from cocm_desktop.store.models import Episode
    from cocm_desktop.store.server_database import ServerDatabase

    dbs = {u: ServerDatabase.open(server_profile, u, "demo") for u in ("cm1", "doc1")}
    try:
        actors = {u: db.actor for u, db in dbs.items()}

        class _Doc:
            def session(self):  # type: ignore[no-untyped-def]
                return dbs["doc1"].session()

        b = Builder(_Doc(), actors)  # type: ignore[arg-type]
        ep = b.episode(TODAY - timedelta(weeks=6), by="doc1", baseline=16, patient_id=b.patient(by="doc1"))

        def save(who: str, day_back: int, step: str):  # type: ignore[no-untyped-def]
            return lambda s: contacts.record_contact(
                s, actors[who], ep, contact_at=b.at(TODAY - timedelta(days=day_back)), mode="phone",
                kind="follow_up", next_step=step, next_step_on=TODAY + timedelta(days=7), minutes=10, now=b.now)

        outcome: dict[str, BaseException | None] = {}

        def doc1_saves() -> None:
            try:
                with dbs["doc1"].session() as s:
                    save("doc1", 1, "Doctor's step")(s)
                outcome["doc1"] = None
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                outcome["doc1"] = exc

        other = threading.Thread(target=doc1_saves)
        with dbs["cm1"].session() as s:
            save("cm1", 2, "Care manager's step")(s)
            other.start()
            other.join(0.5)
            assert other.is_alive()  # waits for the care manager's commit
        other.join(10)
        assert outcome["doc1"] is None
        with dbs["cm1"].session() as s:
            steps = sorted(s.scalars(select(Contact.next_step).where(Contact.episode_id == ep)))
            assert steps == ["Care manager's step", "Doctor's step"]
            assert s.get(Episode, ep).next_action == "Doctor's step"  # the newer contact's
    finally:
        for db in dbs.values():
            db.close()
