"""The treating clinician approves what their chart showed, not a recommendation the consultant
amended after the chart was opened: Approve is refused with one plain message naming the
consultant and the change, nothing is decided, and the chart then shows the consultant's text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import select

from cocm_desktop.domain.actor import Actor
from cocm_desktop.gui.registry_model import RowRole
from cocm_desktop.services.recommendation_corrections import amend_recommendation_text
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Episode, Recommendation, User

AMENDED = "Start weekly behavioural activation; review sleep diary in two weeks"


def _select(w: Any, rec_id: int) -> None:
    view = w.chart.recs_view
    model = view.model()
    index = next(model.index(n, 0) for n in range(model.rowCount()) if model.index(n, 0).data(RowRole).id == rec_id)
    view.setCurrentIndex(index)


def test_approving_a_recommendation_the_consultant_amended_since_is_refused_and_shows_theirs(  # type: ignore[no-untyped-def]
        open_window, demo_path: Path, qtbot, wait_idle, monkeypatch, tmp_path: Path) -> None:
    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        rec = s.scalars(select(Recommendation).where(Recommendation.state == "recommended",
                                                     Recommendation.voided_at.is_(None))).first()
        assert rec is not None, "the demo clinic has a recommendation awaiting approval"
        rec_id, pid, shown_text = rec.id, s.get(Episode, rec.episode_id).patient_id, rec.text
        consultant = s.get(User, rec.recommended_by_id)
        consultant_login, consultant_name = consultant.username, consultant.display_name

    w = open_window(demo_path, "doc1")
    w.open_chart(pid)
    wait_idle()
    _select(w, rec_id)
    assert w.chart.recs_view.currentIndex().data(RowRole).text == shown_text  # what the clinician reads

    # meanwhile the consultant corrects the words on their own workstation
    other = Database.open(demo_path, consultant_login, "demo")
    try:
        with other.session() as s:
            u = s.get(User, other.actor.user_id)
            amend_recommendation_text(s, Actor(u.id, u.username, u.display_name, u.role), rec_id,
                                      reason="Meant activation, not a medication change", text=AMENDED)
    finally:
        other.close()

    shown: list[str] = []

    def message_box(box: QMessageBox) -> int:  # the real dialog, looked at instead of waited on
        shown.append(f"{box.windowTitle()}: {box.text()}")
        box.resize(box.sizeHint())
        box.grab().save(str(tmp_path / "approve_conflict.png"))
        return int(QMessageBox.StandardButton.Ok)

    monkeypatch.setattr(QMessageBox, "exec", message_box)
    assert w.chart.approve_button.isEnabled()
    qtbot.mouseClick(w.chart.approve_button, Qt.MouseButton.LeftButton)
    wait_idle()

    assert len(shown) == 1, shown
    title, message = shown[0].split(": ", 1)
    assert title == "Changed by someone else"
    assert message.startswith(f"{consultant_name} changed this recommendation at "), message
    assert "text edited" in message and "after you opened it" in message and "Your change was not saved" in message
    with w.ctx.db.session() as s:
        row = s.get(Recommendation, rec_id)
        assert (row.state, row.decided_by_id, row.text) == ("recommended", None, AMENDED)  # nothing decided

    # the chart reloads: the clinician now reads the consultant's words, and may approve those
    qtbot.waitUntil(lambda: next(r for r in w.chart.chart.recommendations if r.id == rec_id).text == AMENDED,
                    timeout=10_000)
    _select(w, rec_id)
    assert w.chart.recs_view.currentIndex().data(RowRole).text == AMENDED
    qtbot.mouseClick(w.chart.approve_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert len(shown) == 1  # no second refusal
    with w.ctx.db.session() as s:
        row = s.get(Recommendation, rec_id)
        assert (row.state, row.text, row.decided_by_id) == ("approved", AMENDED, w.ctx.actor.user_id)
