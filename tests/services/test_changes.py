"""Change events travel as small PHI-free payloads and come back the same."""

from __future__ import annotations

from cocm_desktop.services.changes import Change, ChangeEvent, event


def test_an_event_round_trips_through_its_payload() -> None:
    e = event(Change.MEASURE, Change.CORRECTION, patients={3, 7}, by="cm1")
    back = ChangeEvent.from_payload(e.to_payload())
    assert back == e
    assert back.touches(3) and not back.touches(4) and back.touches(None)
    assert back.has(Change.MEASURE) and not back.has(Change.BILLING)


def test_many_patients_become_many_and_junk_is_ignored() -> None:
    big = event(Change.TIME, patients=set(range(500)))
    back = ChangeEvent.from_payload(big.to_payload())
    assert back is not None and back.many and back.touches(12345)
    assert len(big.to_payload()) < 400  # a NOTIFY payload stays small
    assert ChangeEvent.from_payload("not json") is None
    assert ChangeEvent.from_payload('{"k": ["nope"], "t": "2026-12-05T10:00:00"}').kinds == frozenset()
