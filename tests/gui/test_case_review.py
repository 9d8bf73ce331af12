"""Case-review pane: agenda grouped in spec order, add/drop, discussed, inline recommendation."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from cocm_desktop.domain.case_review import AgendaGroup
from cocm_desktop.gui.case_review_agenda import NOT_REACHED
from cocm_desktop.gui.case_review_pane import GroupHeader
from cocm_desktop.services.case_review import rebuild_agenda
from cocm_desktop.services.changes import Change
from cocm_desktop.store.models import Recommendation

SHOTS = Path("/tmp/cr/shots")  # screenshots for a person to look at, when that folder exists


def _pane(open_window, demo_path, user, wait_idle):  # type: ignore[no-untyped-def]
    w = open_window(demo_path, user)
    w.show_case_review()
    wait_idle()
    pane = w.case_review
    assert pane.review_id is not None
    w.ctx.write(rebuild_agenda, pane.review_id, changes=Change.CASE_REVIEW)
    wait_idle()
    return w, pane


def test_agenda_is_grouped_in_spec_order(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    _w, pane = _pane(open_window, demo_path, "cm2", wait_idle)
    headers = [r.label for r in pane.model.rows if isinstance(r, GroupHeader)]
    order = [g.label for g in AgendaGroup]
    assert order[0] == "Safety flags"
    groups = [h for h in headers if h in order]
    assert groups and groups == [g for g in order if g in groups]
    assert headers[-1] == NOT_REACHED  # the rest of the caseload, after the agenda
    current = None
    for row in pane.model.rows:
        if isinstance(row, GroupHeader):
            current = row.label
        elif current == NOT_REACHED:
            assert row.not_reached
        else:
            assert row.group_label == current and not row.not_reached


def test_pane_chooses_a_session_by_care_manager_and_date(open_window, demo_path, wait_idle, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "psych")
    w.show_case_review()
    wait_idle()
    pane = w.case_review
    # the consultant opens on their own sessions: both care managers', the next one shown
    assert pane.consultant_combo.currentText() == "Dr. Priya Shah"
    assert pane.cm_combo.currentText() == "All care managers"
    assert {s.care_manager for s in pane.sessions} == {"Casey Morgan", "Riley Chen"}
    # choose Riley Chen: only her sessions, the next one with its agenda and not-reached list
    cm2 = next(uid for uid, name in pane.people[1] if name == "Riley Chen")
    pane.cm_combo.setCurrentIndex(pane.cm_combo.findData(cm2))
    pane.cm_combo.activated.emit(pane.cm_combo.currentIndex())
    wait_idle()
    assert {s.care_manager for s in pane.sessions} == {"Riley Chen"} and len(pane.sessions) >= 50
    assert pane.review.care_manager == "Riley Chen" and not pane.review.held
    live = [e for e in pane.review.agenda if not e.removed]
    assert len(live) == pane.review.capacity == 10 and len(pane.review.not_reached) == 1
    assert "Riley Chen's caseload with Dr. Priya Shah" in pane.info.text()
    assert "1 not reached" in pane.info.text()
    # an earlier, held session of hers from the session chooser
    held = next(s for s in pane.sessions if s.held and s.on_agenda)
    pane.session_combo.setCurrentIndex(pane.session_combo.findData(held.id))
    pane.session_combo.activated.emit(pane.session_combo.currentIndex())
    wait_idle()
    assert pane.review.id == held.id and pane.review.session_on == held.session_on
    assert sum(1 for r in pane.model.rows if not isinstance(r, GroupHeader)) == held.on_agenda + held.not_reached
    pane.grab().save(str(SHOTS / "case_review_pane_held.png")) if SHOTS.is_dir() else None


def test_a_not_reached_patient_is_put_on_the_agenda(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w, pane = _pane(open_window, demo_path, "cm2", wait_idle)
    (waiting,) = pane.review.not_reached
    assert pane.select_episode(waiting.episode_id)
    assert pane.move_button.isVisible() and "Not reached in this session" in pane.item_body.text()
    pane.move_selected_onto_agenda()
    wait_idle()
    entry = next(e for e in pane.review.agenda if e.episode_id == waiting.episode_id)
    assert entry.added_manually and not entry.not_reached
    # the session is full: the last automatic patient now waits instead
    (bumped,) = pane.review.not_reached
    assert bumped.episode_id != waiting.episode_id


def test_add_drop_and_discuss(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w, pane = _pane(open_window, demo_path, "cm1", wait_idle)
    on = {e.episode_id for e in pane.review.agenda if not e.removed}
    extra = next(r for r in w.registry.model.rows if r.episode_id not in on)
    pane.add_episode(extra.episode_id, "Family asked for review", extra.patient_id)
    wait_idle()
    assert pane.select_episode(extra.episode_id)
    entry = pane.selected_entry()
    assert entry.added_manually
    pane.drop_selected()
    wait_idle()
    assert not pane.select_episode(extra.episode_id)
    first = next(r for r in pane.model.rows if not isinstance(r, GroupHeader))
    pane.select_episode(first.episode_id)
    pane.discussion.setPlainText("Discussed; continue current plan.")
    pane.mark_discussed()
    wait_idle()
    assert pane.select_episode(first.episode_id)
    assert pane.selected_entry().reviewed
    assert not pane.discussed_button.isEnabled()


def test_consultant_records_a_recommendation_inline(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w, pane = _pane(open_window, demo_path, "psych", wait_idle)
    assert pane.rec_box.isVisible()
    first = next(r for r in pane.model.rows if not isinstance(r, GroupHeader))
    pane.select_episode(first.episode_id)
    pane.kind.setCurrentIndex(pane.kind.findData("medication_start"))
    pane.rec_text.setPlainText("Start for depressive symptoms; recheck PHQ-9 in 4 weeks.")
    refused = pane.save_recommendation()
    wait_idle()
    assert refused.error is not None and refused.result is None  # the drug and dose are missing
    assert "name the drug" in pane.rec_error.text()
    assert pane.rec_text.toPlainText()  # what was typed stays
    pane.drug.setText("sertraline")
    pane.dose.setText("50 mg daily")
    op = pane.save_recommendation()
    wait_idle()
    assert op.error is None and op.result is not None
    assert not pane.rec_text.toPlainText()  # recorded: the fields clear
    with w.ctx.db.session() as s:
        rec = s.get(Recommendation, op.result.id)
        assert (rec.state, rec.drug, rec.dose, rec.episode_id) == ("recommended", "sertraline", "50 mg daily",
                                                                   first.episode_id)


def test_care_manager_has_no_recommendation_form(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w, pane = _pane(open_window, demo_path, "cm2", wait_idle)
    assert not pane.rec_box.isVisible()
    with w.ctx.db.session() as s:
        before = len(s.scalars(select(Recommendation)).all())
    assert before > 0


def test_agenda_item_shows_scores_like_the_registry(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    """A missing score is one dash, never "— → — (—)"; the change only when there is one."""
    w, pane = _pane(open_window, demo_path, "cm1", wait_idle)
    by_episode = {r.episode_id: r for r in w.registry.model.rows}
    seen_missing = seen_change = 0
    for entry in (r for r in pane.model.rows if not isinstance(r, GroupHeader)):
        pane.select_episode(entry.episode_id)
        text = pane.item_body.text()
        row = by_episode[entry.episode_id]
        assert "(—)" not in text
        if row.phq9_baseline is None and row.phq9_last is None:
            seen_missing += 1
            assert "PHQ-9 — ·" in text
        if row.phq9_change is not None:
            seen_change += 1
            assert f"PHQ-9 {row.phq9_baseline} → {row.phq9_last} ({row.phq9_change_text})" in text
    assert seen_missing and seen_change
