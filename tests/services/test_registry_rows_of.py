"""The registry rows of a few patients (what live refresh re-reads after a change to them) are
exactly the rows the whole registry lists for those patients: a new episode appears, a closed or
voided one leaves, and patients not asked about are not read."""

from __future__ import annotations

from datetime import timedelta

from cocm_desktop.services import episodes, patients
from cocm_desktop.services.registry import build_registry, registry_rows_of

from .conftest import NOW, TODAY


def _whole(build, ids):  # type: ignore[no-untyped-def]
    return [r for r in build.call(build_registry, "lead", today=TODAY) if r.patient_id in ids]


def _some(build, ids):  # type: ignore[no-untyped-def]
    return build.call(registry_rows_of, "lead", ids, today=TODAY)


def test_the_rows_of_a_few_patients_are_the_registrys_rows_for_them(build) -> None:  # type: ignore[no-untyped-def]
    a = build.episode(TODAY - timedelta(days=40), baseline=17, family="Able")
    b = build.episode(TODAY - timedelta(days=20), baseline=12, family="Baker")
    c = build.episode(TODAY - timedelta(days=10), baseline=9, family="Cole")
    rows = {r.episode_id: r for r in build.call(build_registry, "lead", today=TODAY)}
    pa, pb, pc = (rows[e].patient_id for e in (a, b, c))
    build.contact(a, TODAY - timedelta(days=1), minutes=30)  # a change to one of them
    build.measure(b, TODAY, 6)

    some = _some(build, {pa, pb})
    assert sorted(r.episode_id for r in some) == sorted([a, b])
    assert sorted(some, key=lambda r: r.episode_id) == sorted(_whole(build, {pa, pb}), key=lambda r: r.episode_id)
    assert _some(build, set()) == []

    # closed and voided records leave; a patient's new episode comes in
    build.call(episodes.change_status, "cm1", a, "closed", reason="completed", on=TODAY, now=NOW)
    build.call(patients.void_patient, "doc1", pc, reason="Entered twice", now=NOW)
    assert _some(build, {pa, pc}) == [] == _whole(build, {pa, pc})
    again = build.episode(TODAY, baseline=14, patient_id=pa)
    assert [r.episode_id for r in _some(build, {pa})] == [again] == [r.episode_id for r in _whole(build, {pa})]
