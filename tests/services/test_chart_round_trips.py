"""Opening a chart sends a fixed, small number of statements, however much the episode holds and
however many people wrote it: on the clinic server each statement is a network round trip (issue
16: a chart opens in ≤ 50 ms over TLS; it sent 27 statements there, 30 on the file, before the
staff names were read once for all the chart's parts)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event

from cocm_desktop.services import case_review, chart
from cocm_desktop.store.clinic_db import ClinicDatabase

from .conftest import TODAY, Builder

# The chart's reads (patient, episodes, staff names, policy, one per part, the episode's cached
# registry facts) and its audit record (on the file the app reads and moves the chain's head; on
# the server a trigger does it). Counted at the second open: the first after a write also
# computes the episode's registry facts and caches them.
BUDGET = {"file": 24, "server": 21}


def _statements_to_open(db: ClinicDatabase, build: Builder, episode_id: int) -> tuple[int, chart.Chart]:
    with db.session() as s:  # the first open after a write computes the episode's registry facts
        chart.open_chart(s, build.actors["cm1"], episode_id=episode_id, today=TODAY)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    with db.session() as s:
        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            opened = chart.open_chart(s, build.actors["cm1"], episode_id=episode_id, today=TODAY)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    return len(seen), opened


def test_a_chart_opens_in_a_fixed_number_of_statements_whoever_wrote_it(
    clinic: ClinicDatabase, build: Builder, engine_kind: str,
) -> None:
    e = build.episode(date(2026, 1, 5), baseline=18)
    build.care_plan(e)
    small, _ = _statements_to_open(clinic, build, e)
    assert small <= BUDGET[engine_kind]

    # More of everything, written by more people: the same statements.
    for i, who in enumerate(("cm1", "cm2", "doc1")):
        build.measure(e, date(2026, 2 + i, 3), 16 - 2 * i, by=who)
        build.contact(e, date(2026, 2 + i, 4), by=who, minutes=15)
    build.care_plan(e, by="cm2", relapse="Call the care manager when sleep slips")
    build.call(case_review.record_recommendation, "psych", e, kind="psychotherapy", text="Add behavioural activation")
    large, opened = _statements_to_open(clinic, build, e)
    assert large == small

    # Every part still names the person who wrote it.
    names = {who: build.actors[who].display_name for who in ("cm1", "cm2", "doc1", "psych")}
    assert [c.staff for c in opened.contacts] == [names["doc1"], names["cm2"], names["cm1"]]
    assert [m.entered_by for m in opened.measures][:3] == [names["doc1"], names["cm2"], names["cm1"]]
    assert [p.created_by for p in opened.care_plans] == [names["cm2"], names["cm1"]]
    assert opened.recommendations[0].recommended_by == names["psych"]
