"""No clipped labels: every push button shown in these dialogs is wide enough for its text in its
own (style-sheet) font, padding included — "Save new versio", the sign-off "Yes" and the print
preview's "+"/"−" were cut off."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget

from cocm_desktop.gui.form_dialog import Field, FormDialog

PADDING = 2 * 14 + 2  # style.qss: QPushButton padding 5px 14px, 1px border


def clipped(top: QWidget) -> list[str]:
    """Texts of visible push buttons narrower than their text needs."""
    QApplication.processEvents()
    out = []
    for b in top.findChildren(QPushButton):
        if not b.isVisible() or not b.text():
            continue
        text = b.text().replace("&", "")
        flat = bool(b.property("flat"))
        need = QFontMetrics(b.font()).horizontalAdvance(text) + (12 if flat else PADDING)
        if b.width() < need:
            out.append(f"{text!r}: {b.width()} px < {need} px")
    return out


def test_form_buttons_fit_their_text(open_window, clinic_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(clinic_path, "cm1")
    dialog = FormDialog("Care plan", [Field("goals", "Goals", "text", True)], w, ok_text="Save new version")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert clipped(dialog) == []


def test_the_chart_care_plan_form_fits_its_buttons(open_window, demo_path, qtbot, wait_idle, auto_dialogs) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    row = next(r for r in w.registry.model.rows if r.status == "active")
    w.open_chart(row.patient_id)
    wait_idle()
    w.chart.edit_care_plan()
    dialog = auto_dialogs.dialogs[-1]
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.ok_button.text() == "Save new version" and clipped(dialog) == []


def test_question_buttons_fit_their_text(open_window, clinic_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(clinic_path, "doc1")
    box = QMessageBox(QMessageBox.Icon.Question, "Sign off care plan",
                      "Sign off version 2 of the care plan as the treating clinician?",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, w)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    assert clipped(box) == []


def test_print_preview_buttons_fit_their_text(open_window, clinic_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    import io

    from reportlab.pdfgen import canvas

    from cocm_desktop.gui.print_preview import PdfPreviewDialog

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, "Page one")
    c.showPage()
    c.save()
    w = open_window(clinic_path, "lead")
    d = PdfPreviewDialog(w, buf.getvalue(), "Test")
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    assert clipped(d) == []
