"""Two workstations, one contact: the care manager's amend form was opened before the treating
clinician saved a change; saving it says plainly who changed what, keeps the form open with what was
typed, and the database holds the clinician's change (nothing overwritten)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from sqlalchemy import select

from cocm_desktop.gui.registry_model import RowRole
from cocm_desktop.services.contacts import amend_contact
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Contact, Episode


def test_saving_a_contact_someone_else_changed_shows_their_change_and_saves_nothing(  # type: ignore[no-untyped-def]
        open_window, demo_path: Path, qtbot, wait_idle, tmp_path: Path) -> None:
    w = open_window(demo_path, "cm1")
    me = w.ctx.actor.user_id
    with w.ctx.db.session() as s:
        c = s.scalars(select(Contact).join(Episode, Episode.id == Contact.episode_id)
                      .where(Contact.staff_id == me, Contact.voided_at.is_(None), Contact.minutes > 0,
                             Episode.status != "closed").order_by(Contact.id.desc())).first()
        ep = s.get(Episode, c.episode_id)
        cid, pid, minutes, doc, version = c.id, ep.patient_id, c.minutes, ep.treating_clinician_id, c.row_version
    w.open_chart(pid)
    wait_idle()
    tabs = w.chart.tabs
    tabs.setCurrentIndex(next(n for n in range(tabs.count()) if tabs.tabText(n).startswith("Contacts")))
    view = w.chart.contacts_view
    model = view.model()
    index = next(model.index(n, 0) for n in range(model.rowCount()) if model.index(n, 0).data(RowRole).id == cid)
    view.setCurrentIndex(index)
    where = view.visualRect(index).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where)  # the amend form opens
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Amend contact"

    # meanwhile, on the clinician's workstation
    from cocm_desktop.domain.actor import Actor
    from cocm_desktop.store.models import User

    other = Database.open(demo_path, _username(w, doc), "demo")
    try:
        with other.session() as s:
            u = s.get(User, doc)
            amend_contact(s, Actor(u.id, u.username, u.display_name, u.role), cid, reason="Call ran longer",
                          minutes=minutes + 10)
        name = u.display_name
    finally:
        other.close()

    dialog.widgets["next_step"].setText("Call on Friday")
    dialog.widgets["reason"].setPlainText("Next step agreed differently")
    dialog.ok_button.click()
    wait_idle()
    qtbot.waitUntil(lambda: not dialog.saving)
    message = dialog.error.text()
    assert message.startswith(f"{name} changed this contact at ")
    assert f"minutes {minutes} → {minutes + 10}" in message and "Your change was not saved" in message
    assert dialog.result() != dialog.DialogCode.Accepted  # the form stays, with what was typed
    assert dialog.widgets["next_step"].text() == "Call on Friday"
    w.chart.grab().save(str(tmp_path / "chart.png"))
    dialog.grab().save(str(Path("/tmp") / "edit_conflict_dialog.png"))
    with w.ctx.db.session() as s:
        row = s.get(Contact, cid)
        assert (row.minutes, row.row_version) == (minutes + 10, version + 1)
        assert row.next_step != "Call on Friday"
    dialog.reject()


def _username(w, user_id: int) -> str:  # type: ignore[no-untyped-def]
    from cocm_desktop.store.models import User

    with w.ctx.db.session() as s:
        return s.get(User, user_id).username
