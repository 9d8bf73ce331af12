"""Print preview and printing of an in-memory PDF, offscreen (QPrinter to a PDF file)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.pdfgen.canvas import Canvas

pytest.importorskip("PySide6.QtPrintSupport")

from PySide6.QtPrintSupport import QPrinter  # noqa: E402

from cocm_desktop.gui import print_preview as pp  # noqa: E402


def _pdf(pages: int, size=LETTER) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=size)
    for n in range(1, pages + 1):
        c.setFont("Helvetica-Bold", 40)
        c.drawString(72, size[1] - 144, f"Page {n}")
        c.rect(72, 72, 200, 200, fill=1)
        c.showPage()
    c.save()
    return buf.getvalue()


def _ink(image) -> float:  # type: ignore[no-untyped-def]
    """Share of sampled pixels that are not white."""
    dark = total = 0
    for y in range(0, image.height(), 7):
        for x in range(0, image.width(), 7):
            total += 1
            dark += image.pixelColor(x, y).lightness() < 200
    return dark / total


def test_dialog_builds_and_page_one_renders_with_ink(qtbot) -> None:  # type: ignore[no-untyped-def]
    pdf = _pdf(3)
    dialog = pp.PdfPreviewDialog(None, pdf, "Case review 2026-11-26")
    qtbot.addWidget(dialog)
    assert dialog.page_label.text() == "3 pages"
    assert dialog.printer.pageLayout().orientation().name == "Portrait"
    image = pp.render_page_image(pdf, 0, dpi=72)
    assert (image.width(), image.height()) == (612, 792)
    assert 0.02 < _ink(image) < 0.5  # not blank, not solid


def test_landscape_document_sets_landscape_paper(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = pp.PdfPreviewDialog(None, _pdf(1, landscape(LETTER)), "Billing")
    qtbot.addWidget(dialog)
    assert dialog.printer.pageLayout().orientation().name == "Landscape"


@pytest.mark.parametrize(("page_range", "expected"), [(None, 4), ((2, 3), 2)])
def test_printing_paints_every_page_or_the_chosen_range(qtbot, tmp_path: Path, page_range, expected) -> None:  # type: ignore[no-untyped-def]
    pdf = _pdf(4)
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    out = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(out))
    pp.prepare_printer(printer, pdf)
    if page_range:
        printer.setPrintRange(QPrinter.PrintRange.PageRange)
        printer.setFromTo(*page_range)
    assert pp.paint_pdf(printer, pdf, dpi=100) == expected
    printed = PdfReader(str(out))
    assert len(printed.pages) == expected
    box = printed.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)


def test_cancel_stops_printing(tmp_path: Path) -> None:
    pdf = _pdf(5)
    printer = QPrinter()
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "p.pdf"))
    assert pp.paint_pdf(printer, pdf, dpi=50, progress=lambda done, total: done < 2) == 2


def test_save_as_pdf_writes_the_bytes_owner_only(qtbot, tmp_path: Path, monkeypatch, permissive_umask) -> None:  # type: ignore[no-untyped-def]
    pdf = _pdf(1)
    dialog = pp.PdfPreviewDialog(None, pdf, "Quality report 2026-11")
    qtbot.addWidget(dialog)
    chosen = tmp_path / "quality"
    monkeypatch.setattr(pp.QFileDialog, "getSaveFileName", lambda *a, **k: (str(chosen), "PDF documents (*.pdf)"))
    saved = dialog.save_as_pdf()
    assert saved == tmp_path / "quality.pdf"
    assert saved.read_bytes() == pdf and saved.stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quality.pdf"]  # no leftover temp file
    monkeypatch.setattr(pp.QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    assert dialog.save_as_pdf() is None


def test_empty_document_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing to print"):
        pp.page_count(b"")


def test_the_print_dialog_offers_no_print_to_file(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Qt's "Print to File" would write a world-readable PDF itself; files go through Save as PDF…."""
    from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog
    from PySide6.QtWidgets import QDialog

    shown: list[QPrintDialog] = []
    monkeypatch.setattr(QPrintDialog, "exec", lambda self: shown.append(self) or int(QDialog.DialogCode.Rejected))
    dialog = pp.PdfPreviewDialog(None, _pdf(2), "Billing packet")
    qtbot.addWidget(dialog)
    assert dialog.print_document() is False
    (printing,) = shown
    assert not printing.testOption(QAbstractPrintDialog.PrintDialogOption.PrintToFile)
