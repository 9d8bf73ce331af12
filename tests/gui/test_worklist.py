"""My work: sign-in lands on the person's worklist with counts (rail and category list), and a
double-click opens what the item is about."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cocm_desktop.gui.registry_model import RowRole
from cocm_desktop.services.changes import Change
from cocm_desktop.services.worklists import WorkKind

SHOTS = os.environ.get("COCM_SCREENSHOTS")  # a folder: the screens are saved there to be looked at


def _shot(widget, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        widget.grab().save(str(Path(SHOTS) / f"{name}.png"))


def _row_of(pane, kind: WorkKind) -> int:  # type: ignore[no-untyped-def]
    return next(r for r in range(pane.proxy.rowCount()) if pane.proxy.index(r, 0).data(RowRole).kind is kind)


def test_sign_in_lands_on_my_work_with_counts_and_double_click_opens_the_chart(  # type: ignore[no-untyped-def]
    open_window, demo_path, qtbot, wait_idle
) -> None:
    w = open_window(demo_path, "cm1")
    pane = w.worklist
    assert w.ui.paneStack.currentWidget() is w.ui.worklistPage and w.ui.worklistNav.isChecked()
    wl = pane.worklist
    assert wl is not None and wl.total > 0
    assert w.ui.worklistNav.text() == f"My work\n{wl.total}"  # the count in the rail
    assert f"{WorkKind.CONTACT_DUE.label}: {wl.counts[WorkKind.CONTACT_DUE]}" in w.ui.worklistNav.toolTip()
    lines = [pane.categories.index(r, 0).data() for r in range(pane.categories.rowCount())]
    assert lines[0] == f"All   {wl.total}"
    assert f"{WorkKind.TELL_PATIENT.label}   {wl.counts[WorkKind.TELL_PATIENT]}" in lines
    assert pane.proxy.rowCount() == wl.total
    _shot(w, "worklist_care_manager")

    # a category narrows the list to its items
    row = [c.kind for c in pane.categories.rows].index(WorkKind.CONTACT_DUE)
    pane.category_view.clicked.emit(pane.categories.index(row, 0))
    assert {i.kind for i in pane.visible_items()} == {WorkKind.CONTACT_DUE}
    assert len(pane.visible_items()) == wl.counts[WorkKind.CONTACT_DUE]

    item = pane.visible_items()[0]
    index = pane.proxy.index(0, 1)
    rect = pane.table.visualRect(index)
    qtbot.mouseClick(pane.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(pane.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wait_idle()
    assert w.ui.paneStack.currentWidget() is w.ui.chartPage
    assert w.chart.chart is not None and w.chart.chart.patient.id == item.patient_id


def test_a_write_updates_the_counts_and_the_clinician_opens_on_approvals(  # type: ignore[no-untyped-def]
    open_window, demo_path, qtbot, wait_idle
) -> None:
    from datetime import datetime

    from sqlalchemy import select

    from cocm_desktop.domain.actor import Actor
    from cocm_desktop.services.case_review import record_recommendation
    from cocm_desktop.store.database import Database
    from cocm_desktop.store.models import Episode, User

    # the consultant records a recommendation for one of doc1's patients, today
    with Database.open(demo_path, "psych", "demo") as db, db.session() as s:
        doc1 = s.scalar(select(User.id).where(User.username == "doc1"))
        ep = s.scalars(select(Episode).where(Episode.treating_clinician_id == doc1, Episode.status != "closed")
                       .order_by(Episode.id)).first()
        assert db.actor is not None
        rec = record_recommendation(s, Actor(db.actor.user_id, "psych", "Dr. Priya Shah", "psychiatrist"),
                                    ep.id, kind="continue", text="Continue the current plan; recheck in 4 weeks.",
                                    now=datetime.now().replace(microsecond=0))
    w = open_window(demo_path, "doc1")
    pane = w.worklist
    approvals = [i for i in pane.worklist.items if i.kind is WorkKind.APPROVE_RECOMMENDATION]
    assert rec.id in {i.ref_id for i in approvals}  # at once, not after 3 days
    before = pane.worklist.total
    _shot(w, "worklist_clinician")

    from cocm_desktop.services.case_review import decide_recommendation

    w.ctx.write(decide_recommendation, rec.id, "approved", changes=Change.RECOMMENDATION, patient_id=ep.patient_id)
    wait_idle()
    assert pane.worklist.total == before - 1
    assert w.ui.worklistNav.text() == (f"My work\n{before - 1}" if before > 1 else "My work")


def test_lead_acknowledges_a_billing_adjustment_from_my_work(  # type: ignore[no-untyped-def]
    open_window, demo_path, qtbot, wait_idle, monkeypatch
) -> None:
    from datetime import date, datetime

    from cocm_desktop.services.billing_month import compute_billing_month
    from cocm_desktop.services.billing_submissions import mark_month_submitted
    from cocm_desktop.services.time_log import add_manual_time
    from cocm_desktop.store.database import Database

    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        assert db.actor is not None
        mark_month_submitted(s, db.actor, "2026-10", today=date(2026, 11, 24))
        row = next(r for r in compute_billing_month(s, "2026-10").rows if r.codes and r.codes[0][0] == "G2214")
    with Database.open(demo_path, "cm1", "demo") as db, db.session() as s:
        assert db.actor is not None
        add_manual_time(s, db.actor, patient_id=row.patient_id, activity="care_coordination", minutes=20,
                        local_date=date(2026, 10, 30), note="Pharmacy call", now=datetime(2026, 11, 24, 16))
    w = open_window(demo_path, "lead")
    pane = w.worklist
    assert pane.count_of(WorkKind.BILLING_ADJUSTMENT) == 1
    assert w.ui.worklistNav.text().startswith("My work\n")
    _shot(w, "worklist_lead")

    shown: list[str] = []

    def answer(self) -> int:  # type: ignore[no-untyped-def]
        shown.append(self.text())
        self.setProperty("clicked", 0)
        for b in self.buttons():
            if self.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole:
                monkeypatch.setattr(self, "clickedButton", lambda b=b: b)
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer)
    r = _row_of(pane, WorkKind.BILLING_ADJUSTMENT)
    pane.table.doubleClicked.emit(pane.proxy.index(r, 0))
    wait_idle()
    assert shown and "G2214 ×1 → 99493" in shown[0] and "cm1" in shown[0]
    assert pane.count_of(WorkKind.BILLING_ADJUSTMENT) == 0


def test_modify_opens_with_the_recommendations_text(open_window, demo_path, wait_idle, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QInputDialog

    w = open_window(demo_path, "doc2")
    item = next(i for i in w.worklist.worklist.items if i.kind is WorkKind.APPROVE_RECOMMENDATION)
    w.open_work_item(item)  # double-click target: the chart of that patient
    wait_idle()
    assert w.chart.chart is not None and w.chart.chart.patient.id == item.patient_id
    rec = next(r for r in w.chart.recs_model.rows if r.id == item.ref_id)
    offered: list[str] = []

    def edit(parent, title, label, text="", *a, **k):  # type: ignore[no-untyped-def]
        offered.append(text)
        return text.replace("weekly", "fortnightly") + " Review in 4 weeks.", True

    monkeypatch.setattr(QInputDialog, "getMultiLineText", staticmethod(edit))
    w.chart.decide(rec.id, "modified")
    wait_idle()
    assert offered == [rec.text] and rec.text  # the box opens with the text to edit, not empty
    assert item.ref_id not in {i.ref_id for i in w.worklist.worklist.items
                               if i.kind is WorkKind.APPROVE_RECOMMENDATION}
