"""Case-review packet, billing packet and quality check open the print preview (built off the GUI
thread, in memory); nothing is written unless the user saves from the preview."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog

from cocm_desktop.gui.print_preview import PdfPreviewDialog, page_count


def _previews(auto_dialogs) -> list[PdfPreviewDialog]:  # type: ignore[no-untyped-def]
    return [d for d in auto_dialogs.dialogs if isinstance(d, PdfPreviewDialog)]


def test_case_review_packet_opens_the_print_preview(open_window, demo_path, wait_idle, auto_dialogs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    w.show_case_review()
    wait_idle()
    assert w.case_review.review_id is not None
    w.ui.actionCaseReviewPacket.trigger()
    wait_idle()
    previews = _previews(auto_dialogs)
    assert len(previews) == 1
    preview = previews[0]
    assert preview.windowTitle().startswith("Print preview — Case-review packet")
    assert preview._pdf.startswith(b"%PDF") and page_count(preview._pdf) >= 1
    assert w.case_review.print_button.isEnabled() and not w.case_review.busy.isVisible()
    assert not list(tmp_path.rglob("*.pdf"))  # nothing saved by itself


def test_billing_and_quality_reports_open_the_print_preview(open_window, demo_path, wait_idle, auto_dialogs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "lead")
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda parent, title, label, items, *a, **k: (items[1], True)))
    w.ui.actionBillingReport.trigger()
    wait_idle()
    w.ui.actionQualityReport.trigger()
    wait_idle()
    titles = [d.windowTitle() for d in _previews(auto_dialogs)]
    assert len(titles) == 2
    assert titles[0].startswith("Print preview — Billing packet") and titles[1].startswith("Print preview — Quality check")
    assert any("billing CSV" in t for t in auto_dialogs)  # the CSV is offered after the preview
