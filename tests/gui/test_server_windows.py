"""Two app windows on one `server demo`, signed in as cm1 and doc1 through the same connection
profile, work on the same patient: what one saves, the other shows, and a conflicting edit is
resolved plainly; each sees the other's name on the record."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from cocm_desktop.domain.flags import Flag
from cocm_desktop.gui.measure_dialog import MeasureDialog
from cocm_desktop.store.models import AuditRecord, Measure


def test_two_windows_on_the_server_work_on_one_patient(open_window, demo_server: Path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    cm = open_window(demo_server, "cm1")
    doc = open_window(demo_server, "doc1")
    assert cm.ctx.on_server and doc.ctx.on_server
    assert "clinic server" in cm.backups.label.text()  # nothing is backed up on this computer
    assert not cm.ui.actionBackUp.isEnabled()
    row = next(r for r in cm.registry.model.rows if r.status == "active" and not r.has(Flag.SAFETY))
    for w in (cm, doc):
        w.open_chart(row.patient_id)
    wait_idle()
    assert saved_before(doc) == saved_before(cm)  # the same chart in both windows
    dialog = MeasureDialog(cm.ctx, episode_id=row.episode_id, patient_id=row.patient_id, instrument="PHQ-9",
                           patient_name=row.patient_name, parent=cm)
    dialog.set_answers([2, 2, 2, 2, 1, 1, 1, 1, 0])
    dialog.save()
    wait_idle()
    assert dialog.result_value is not None
    saved = dialog.result_value.id
    doc.open_chart(row.patient_id)  # the clinician's window reads it from the server
    wait_idle()
    with doc.ctx.db.session() as s:
        m = s.get(Measure, saved)
        assert m is not None and m.total == 12
        writer = s.scalar(select(AuditRecord.signer).where(AuditRecord.action == "measure.create")
                          .order_by(AuditRecord.seq.desc()).limit(1))
    assert writer == "cm1"  # the server names who wrote it, whatever window read it
    assert doc.chart.chart.patient.id == row.patient_id
    assert saved in saved_before(doc)  # the clinician's chart shows the care manager's score


def saved_before(window) -> list[int]:  # type: ignore[no-untyped-def]
    return [m.id for m in window.chart.chart.measures]


def test_a_conflicting_edit_between_two_windows_is_shown_live_and_resolved_plainly(  # type: ignore[no-untyped-def]
        open_window, demo_server: Path, wait_idle, qtbot, tmp_path: Path) -> None:
    """cm1 and doc1 both open "Amend contact" on the same contact. doc1 saves first: cm1's chart
    follows live and her open form says who changed it; her save is refused with what changed,
    and she chooses to save her next step over it. Both changes are kept."""
    from PySide6.QtWidgets import QLabel

    from cocm_desktop.gui.form_dialog import SAVE_OVER
    from cocm_desktop.gui.live_bridge import NOTICE_NAME
    from cocm_desktop.store.models import Contact, Episode

    cm = open_window(demo_server, "cm1")
    doc = open_window(demo_server, "doc1")
    assert doc.live is not None and cm.live is not None and cm.live.bridge.wait_connected(5)
    with cm.ctx.db.session() as s:
        c = s.scalars(select(Contact).join(Episode, Episode.id == Contact.episode_id)
                      .where(Contact.voided_at.is_(None), Contact.minutes > 0, Episode.status != "closed",
                             Contact.staff_id == cm.ctx.actor.user_id)
                      .order_by(Contact.id.desc())).first()
        assert c is not None
        cid, minutes, pid = c.id, c.minutes, s.get(Episode, c.episode_id).patient_id
    for w in (cm, doc):
        w.open_chart(pid)
    wait_idle()

    def contact(w):  # type: ignore[no-untyped-def]
        return next(x for x in w.chart.chart.contacts if x.id == cid)

    cm.chart.amend_entry("contact", contact(cm))
    mine = cm.chart.correction_dialog
    mine.show()  # (exec() does not block in tests)
    mine.widgets["next_step"].setText("Call on Friday")
    mine.widgets["reason"].setPlainText("Next step agreed with the patient")

    doc.chart.amend_entry("contact", contact(doc))
    theirs = doc.chart.correction_dialog
    theirs.show()
    theirs.widgets["minutes"].setText(str(minutes + 10))
    theirs.widgets["reason"].setPlainText("The call ran longer")
    theirs.ok_button.click()
    wait_idle()
    assert theirs.result() == theirs.DialogCode.Accepted, theirs.error.text()

    # live: cm1's chart shows the clinician's minutes; her open form is kept and says who changed it
    qtbot.waitUntil(lambda: contact(cm).minutes == minutes + 10, timeout=2000)
    notice = mine.findChild(QLabel, NOTICE_NAME)
    assert notice is not None and notice.text().startswith("Changed by ")
    assert mine.widgets["next_step"].text() == "Call on Friday"

    mine.ok_button.click()
    wait_idle()
    qtbot.waitUntil(lambda: not mine.saving)
    message = mine.error.text()
    assert message.startswith(f"{doc.ctx.actor.display_name} changed this contact at ")
    assert f"minutes {minutes} → {minutes + 10}" in message and mine.ok_button.text() == SAVE_OVER
    shots = Path(os.environ.get("COCM_SCREENSHOTS", tmp_path))
    mine.grab().save(str(shots / "server-conflict-form.png"))
    cm.grab().save(str(shots / "server-conflict-cm1.png"))
    doc.grab().save(str(shots / "server-conflict-doc1.png"))

    mine.ok_button.click()  # she has seen theirs: her next step goes over it, their minutes stay
    wait_idle()
    assert mine.result() == mine.DialogCode.Accepted, mine.error.text()
    qtbot.waitUntil(lambda: contact(doc).next_step == "Call on Friday", timeout=2000)  # and live the other way
    with doc.ctx.db.session() as s:
        row = s.get(Contact, cid)
        assert (row.minutes, row.next_step) == (minutes + 10, "Call on Friday")


def test_signing_in_fills_a_cold_registry_cache_in_the_background(  # type: ignore[no-untyped-def]
        open_window, pg_bin, pg_dir_factory, wait_idle) -> None:
    """A month start (or a bulk change) leaves the server's facts cache cold, and one registry read
    stores at most 64 patients' facts: signing in fills the rest in the background, so the next
    whole-clinic reads find every row cached."""
    from sqlalchemy import delete, func

    from cocm_desktop.services.clinic import open_clinic
    from cocm_desktop.services.server_setup import start_demo_server, stop_demo_server
    from cocm_desktop.store.models import RegistryFacts

    folder = pg_dir_factory() / "cold"
    demo = start_demo_server(folder, patients=160, port=None, seed=3)
    try:
        with open_clinic(demo.profile_path, "lead", "demo") as db, db.session() as s:
            s.execute(delete(RegistryFacts))  # derived: as at a month start, every row to renew
        w = open_window(demo.profile_path, "cm1")
        wait_idle()
        listed = len(w.registry.model.rows)
        assert listed > 64  # more than one registry read stores
        with w.ctx.db.session() as s:
            assert s.scalar(select(func.count()).select_from(RegistryFacts)) == listed
    finally:
        stop_demo_server(folder)
