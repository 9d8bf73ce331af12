"""Print preview, printing and "Save as PDF…" for any report the app builds in memory.

`show_pdf_preview(parent, pdf_bytes, title)` opens a modal preview of the PDF with Print… (Qt's
print dialog: printer, page range, copies) and Save as PDF… (the bytes are written only where the
user chooses). Pages are rasterised with pypdfium2 straight from the bytes in memory: no temporary
file ever holds PHI.

Resolution: printing renders one page at a time at the printer's resolution, capped at
PRINT_DPI_MAX (a 600 dpi Letter page would be a 100 MB bitmap; 300 dpi is sharp on paper); the
on-screen preview renders at PREVIEW_DPI.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPainter
from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter, QPrintPreviewWidget
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.reports.output import write_private

PRINT_DPI_MAX = 300
PREVIEW_DPI = 110


def _document(pdf_bytes: bytes) -> pdfium.PdfDocument:
    if not pdf_bytes:
        raise ValueError("There is nothing to print (the document is empty).")
    return pdfium.PdfDocument(pdf_bytes)


def page_count(pdf_bytes: bytes) -> int:
    doc = _document(pdf_bytes)
    try:
        return len(doc)
    finally:
        doc.close()


def render_page(doc: pdfium.PdfDocument, index: int, dpi: float) -> QImage:
    """One page as an RGB QImage at `dpi` (the image owns its pixels)."""
    page = doc[index]
    try:
        bitmap = page.render(scale=dpi / 72.0, rev_byteorder=True)
        try:
            image = QImage(bytes(bitmap.buffer), bitmap.width, bitmap.height, bitmap.stride,
                           QImage.Format.Format_RGB888).copy()
        finally:
            bitmap.close()
    finally:
        page.close()
    dots_per_metre = round(dpi / 0.0254)
    image.setDotsPerMeterX(dots_per_metre)
    image.setDotsPerMeterY(dots_per_metre)
    return image


def render_page_image(pdf_bytes: bytes, index: int = 0, dpi: float = PREVIEW_DPI) -> QImage:
    doc = _document(pdf_bytes)
    try:
        return render_page(doc, index, dpi)
    finally:
        doc.close()


def prepare_printer(printer: QPrinter, pdf_bytes: bytes) -> None:
    """Match the printer's paper and orientation to the document (Letter portrait / landscape)."""
    doc = _document(pdf_bytes)
    try:
        width, height = doc.get_page_size(0)
    finally:
        doc.close()
    size = QPageSize(QPageSize.id(QSize(round(width), round(height)), QPageSize.SizeMatchPolicy.FuzzyOrientationMatch))
    printer.setPageSize(size)
    printer.setPageOrientation(QPageLayout.Orientation.Landscape if width > height
                               else QPageLayout.Orientation.Portrait)
    printer.setFullPage(True)


def paint_pdf(printer: QPrinter, pdf_bytes: bytes, dpi: float | None = None,
              progress: Callable[[int, int], bool] | None = None) -> int:
    """Paint the PDF's pages onto `printer` (honouring a chosen page range); returns pages painted.

    Each page is rendered, drawn and released before the next one, so memory stays at one page.
    `progress(done, total)` is called before each page; returning False stops (the pages so far
    are kept, as with any printer cancel).
    """
    doc = _document(pdf_bytes)
    try:
        count = len(doc)
        first, last = 1, count
        if printer.printRange() == QPrinter.PrintRange.PageRange and printer.fromPage() > 0:
            first, last = max(1, printer.fromPage()), min(count, printer.toPage() or count)
        res = dpi or min(printer.resolution(), PRINT_DPI_MAX)
        painter = QPainter()
        if not painter.begin(printer):
            raise OSError("The printer could not be started.")
        painted = 0
        try:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            total = last - first + 1
            for n, index in enumerate(range(first - 1, last)):
                if progress is not None and not progress(n, total):
                    break
                if n and not printer.newPage():
                    raise OSError("The printer refused a new page.")
                image = render_page(doc, index, res)
                target = QRectF(printer.paperRect(QPrinter.Unit.DevicePixel))
                target.moveTo(0, 0)
                painter.drawImage(target, image)
                painted += 1
        finally:
            painter.end()
        return painted
    finally:
        doc.close()


def save_pdf(path: str | os.PathLike[str], pdf_bytes: bytes) -> Path:
    """Write the PDF where the user chose (owner-only permissions; a half-written file never stays)."""
    target = Path(path)
    if target.suffix.lower() != ".pdf":
        target = target.with_name(target.name + ".pdf")
    return write_private(target, pdf_bytes)


def _safe_filename(title: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in " -_." else "_" for ch in title).strip()
    return (keep or "report") + ".pdf"


class PdfPreviewDialog(QDialog):
    """Preview of an in-memory PDF with Print… and Save as PDF…."""

    def __init__(self, parent: QWidget | None, pdf_bytes: bytes, title: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Print preview \u2014 {title}")
        self.setObjectName("pdfPrintPreview")
        self.resize(900, 1000)
        self._pdf = pdf_bytes
        self._title = title
        self._pages = page_count(pdf_bytes)
        self.printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        self.printer.setDocName(title)
        prepare_printer(self.printer, pdf_bytes)

        self.preview = QPrintPreviewWidget(self.printer, self)
        self.preview.paintRequested.connect(self._paint_preview)
        self.preview.setZoomMode(QPrintPreviewWidget.ZoomMode.FitToWidth)

        self.page_label = QLabel(f"{self._pages} page{'s' if self._pages != 1 else ''}", self)
        zoom_out = QPushButton("\u2212", self)
        zoom_out.setToolTip("Zoom out")
        zoom_out.clicked.connect(lambda: self.preview.zoomOut())
        zoom_in = QPushButton("+", self)
        zoom_in.setToolTip("Zoom in")
        zoom_in.clicked.connect(lambda: self.preview.zoomIn())
        fit = QPushButton("Fit width", self)
        fit.clicked.connect(lambda: self.preview.setZoomMode(QPrintPreviewWidget.ZoomMode.FitToWidth))
        for b in (zoom_out, zoom_in):  # square-ish, but never narrower than the style's padding needs
            b.setMinimumWidth(b.sizeHint().height() + 8)
        self.print_button = QPushButton("Print\u2026", self)
        self.print_button.setDefault(True)
        self.print_button.clicked.connect(self.print_document)
        self.save_button = QPushButton("Save as PDF\u2026", self)
        self.save_button.clicked.connect(self.save_as_pdf)
        close = QPushButton("Close", self)
        close.clicked.connect(self.reject)

        bar = QHBoxLayout()
        bar.addWidget(self.page_label)
        bar.addSpacing(12)
        bar.addWidget(zoom_out)
        bar.addWidget(zoom_in)
        bar.addWidget(fit)
        bar.addStretch(1)
        bar.addWidget(self.save_button)
        bar.addWidget(self.print_button)
        bar.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addLayout(bar)

    def _paint_preview(self, printer: QPrinter) -> None:
        paint_pdf(printer, self._pdf, dpi=PREVIEW_DPI)

    def print_document(self) -> bool:
        """Qt's print dialog, then the pages at printer resolution. True when something was printed."""
        self.printer.setFromTo(1, self._pages)
        dialog = QPrintDialog(self.printer, self)
        dialog.setWindowTitle(f"Print \u2014 {self._title}")
        dialog.setMinMax(1, self._pages)
        # No "Print to File": Qt would write that file itself (world-readable, not atomic); a file
        # copy goes through Save as PDF… (reports.output).
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintToFile, False)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        progress = QProgressDialog("Sending pages to the printer\u2026", "Cancel", 0, self._pages, self)
        progress.setWindowTitle("Printing")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)

        def step(done: int, total: int) -> bool:
            progress.setMaximum(total)
            progress.setValue(done)
            QApplication.processEvents()
            return not progress.wasCanceled()

        try:
            paint_pdf(self.printer, self._pdf, progress=step)
        except OSError as exc:
            QMessageBox.warning(self, "Printing failed", str(exc))
            return False
        finally:
            progress.close()
        return True

    def save_as_pdf(self) -> Path | None:
        path, _filter = QFileDialog.getSaveFileName(
            self, "Save as PDF", _safe_filename(self._title), "PDF documents (*.pdf)")
        if not path:
            return None
        try:
            return save_pdf(path, self._pdf)
        except OSError as exc:  # reports.output.OutputError: one plain sentence naming the file
            QMessageBox.warning(self, "Could not save", str(exc))
            return None


def show_pdf_preview(parent: QWidget | None, pdf_bytes: bytes, title: str) -> None:
    """Modal print preview of an in-memory PDF (Print…, Save as PDF…, Close)."""
    dialog = PdfPreviewDialog(parent, pdf_bytes, title)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    dialog.exec()
