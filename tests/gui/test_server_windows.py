"""Two app windows on one `server demo`, signed in as cm1 and doc1 through the same connection
profile, work on the same patient: what one saves, the other shows (here after a refresh; live
refresh is the team issue's), and each sees the other's name on the record."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cocm_desktop.domain.flags import Flag
from cocm_desktop.gui.measure_dialog import MeasureDialog
from cocm_desktop.store.models import AuditRecord, Measure


@pytest.fixture(scope="module")
def demo_server(pg_bin, pg_dir_factory):  # type: ignore[no-untyped-def]
    from cocm_desktop.services.server_setup import start_demo_server, stop_demo_server

    folder = pg_dir_factory() / "team"
    demo = start_demo_server(folder, patients=8, port=None, seed=7)
    yield demo.profile_path
    stop_demo_server(folder)


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
