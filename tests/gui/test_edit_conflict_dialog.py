"""Two workstations, one contact: the care manager's amend form was opened before the treating
clinician saved a change; saving it says plainly who changed what, keeps the form open with what was
typed, and the database holds the clinician's change (nothing overwritten)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from sqlalchemy import select

from cocm_desktop.gui.form_dialog import SAVE_OVER
from cocm_desktop.gui.registry_model import RowRole
from cocm_desktop.services.contacts import amend_contact
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Contact, Episode


def test_saving_a_contact_someone_else_changed_shows_their_change_and_saves_nothing(  # type: ignore[no-untyped-def]
        open_window, demo_path: Path, qtbot, wait_idle, tmp_path: Path) -> None:
    w = open_window(demo_path, "cm1")
    cid, pid, minutes, doc, version = _my_latest_contact(w)
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
    # the chart behind the form shows their change (the file engine has no live refresh)
    qtbot.waitUntil(lambda: next(c for c in w.chart.chart.contacts if c.id == cid).minutes == minutes + 10,
                    timeout=10_000)

    # The care manager has seen it and chooses: save the next step over their change. Their
    # minutes stay (the form changed only the next step); nothing is lost on either side.
    assert dialog.ok_button.text() == SAVE_OVER and "Cancel keeps their change" in message
    dialog.ok_button.click()
    wait_idle()
    qtbot.waitUntil(lambda: not dialog.saving)
    assert dialog.result() == dialog.DialogCode.Accepted, dialog.error.text()
    with w.ctx.db.session() as s:
        row = s.get(Contact, cid)
        assert (row.minutes, row.next_step, row.row_version) == (minutes + 10, "Call on Friday", version + 2)


def test_a_third_change_after_the_message_is_refused_again(  # type: ignore[no-untyped-def]
        open_window, demo_path: Path, qtbot, wait_idle) -> None:
    """"Save over their change" goes over the change the message showed, not over one made after."""
    w = open_window(demo_path, "cm1")
    me = w.ctx.actor.user_id
    cid, pid, minutes, _doc, _version = _my_latest_contact(w)
    w.open_chart(pid)
    wait_idle()
    contact = next(c for c in w.chart.chart.contacts if c.id == cid)
    w.chart.amend_entry("contact", contact)  # the form opens (modal: driven below)
    dialog = w.chart.correction_dialog
    dialog.widgets["reason"].setPlainText("Next step agreed differently")
    dialog.widgets["next_step"].setText("Call on Monday")

    def elsewhere(extra: int) -> None:
        other = Database.open(demo_path, "cm1", "demo")  # the same person in another window
        try:
            with other.session() as s:
                actor = _actor(s, me)
                amend_contact(s, actor, cid, reason="Call ran longer", minutes=minutes + extra)
        finally:
            other.close()

    elsewhere(5)
    dialog.ok_button.click()
    wait_idle()
    assert dialog.ok_button.text() == SAVE_OVER and "in another window" in dialog.error.text()
    elsewhere(7)  # and once more, after the message
    dialog.ok_button.click()
    wait_idle()
    assert dialog.result() != dialog.DialogCode.Accepted and f"minutes {minutes + 5} → {minutes + 7}" in dialog.error.text()
    dialog.ok_button.click()  # this time over the change just shown
    wait_idle()
    assert dialog.result() == dialog.DialogCode.Accepted
    with w.ctx.db.session() as s:
        row = s.get(Contact, cid)
        assert (row.minutes, row.next_step) == (minutes + 7, "Call on Monday")


def _my_latest_contact(w) -> tuple[int, int, int, int, int]:  # type: ignore[no-untyped-def]
    """(contact id, patient id, minutes, treating clinician id, row version) of the signed-in care
    manager's newest contact with minutes on an open episode."""
    with w.ctx.db.session() as s:
        c = s.scalars(select(Contact).join(Episode, Episode.id == Contact.episode_id)
                      .where(Contact.staff_id == w.ctx.actor.user_id, Contact.voided_at.is_(None),
                             Contact.minutes > 0, Episode.status != "closed").order_by(Contact.id.desc())).first()
        ep = s.get(Episode, c.episode_id)
        return c.id, ep.patient_id, c.minutes, ep.treating_clinician_id, c.row_version


def _actor(s, user_id: int):  # type: ignore[no-untyped-def]
    from cocm_desktop.domain.actor import Actor
    from cocm_desktop.store.models import User

    u = s.get(User, user_id)
    return Actor(u.id, u.username, u.display_name, u.role)


def _username(w, user_id: int) -> str:  # type: ignore[no-untyped-def]
    from cocm_desktop.store.models import User

    with w.ctx.db.session() as s:
        return s.get(User, user_id).username
