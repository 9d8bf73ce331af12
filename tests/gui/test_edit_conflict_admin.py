"""The clinic policy page saves over the policy it showed only when the lead chooses to: another
save meanwhile is named on the page (nothing saved), and "Save over their change" then saves only
the numbers changed here, keeping the other change."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog

from cocm_desktop.gui.admin import PolicyDialog
from cocm_desktop.gui.form_dialog import SAVE_OVER
from cocm_desktop.services.common import load_policy
from cocm_desktop.services.policy import update_policy
from cocm_desktop.store.database import Database


def _policy(path: Path):  # type: ignore[no-untyped-def]
    with Database.open(path, "lead", "demo") as db, db.session() as s:
        return load_policy(s)


def test_policy_saved_elsewhere_after_the_page_opened_is_named_and_kept(  # type: ignore[no-untyped-def]
        open_window, clinic_path: Path, qtbot, wait_idle, tmp_path: Path) -> None:
    w = open_window(clinic_path, "lead")
    d = PolicyDialog(w.ctx, w)
    qtbot.addWidget(d)
    d.show()

    with Database.open(clinic_path, "lead", "demo") as other, other.session() as s:  # another window
        update_policy(s, other.actor, {"stable_contact_days": 21})

    d.spins["idle_lock_minutes"].setValue(3)
    d.save()
    wait_idle()
    assert d.result() != QDialog.DialogCode.Accepted
    message = d.error.text()
    assert message.startswith("You changed this clinic policy in another window at "), message
    assert "→ 21" in message and "Your change was not saved" in message
    assert d.save_button.text() == SAVE_OVER and message.endswith("Cancel keeps their change.")
    # the page now shows their number beside the one typed here, neither marked wrong
    assert (d.spins["stable_contact_days"].value(), d.spins["idle_lock_minutes"].value()) == (21, 3)
    assert not any(spin.property("invalid") for spin in d.spins.values())
    d.grab().save(str(tmp_path / "policy_conflict.png"))
    assert _policy(clinic_path).idle_lock_minutes != 3  # nothing of this page saved

    d.save()  # the lead chooses: only the idle lock is saved, over the policy as it is now
    wait_idle()
    assert d.result() == QDialog.DialogCode.Accepted, d.error.text()
    now = _policy(clinic_path)
    assert (now.idle_lock_minutes, now.stable_contact_days) == (3, 21)
