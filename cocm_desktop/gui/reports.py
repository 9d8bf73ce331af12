"""Reports menu: billing month (PDF + CSV) and the monthly quality check, clinic lead only.

Built off the GUI thread from the report modules (in memory), then shown in the print preview
(Print…, Save as PDF…); written only where the user saves.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import show_error
from cocm_desktop.gui.worker import run_in_background
from cocm_desktop.reports.output import OutputError, write_private
from cocm_desktop.services.changes import Change, ChangeEvent, event


def recent_months(today: date, count: int = 13) -> list[date]:
    out, y, m = [], today.year, today.month
    for _ in range(count):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def ask_month(parent: QWidget, title: str) -> date | None:
    months = recent_months(date.today())
    labels = [f"{m:%B %Y}" + (" (this month, so far)" if n == 0 else "") for n, m in enumerate(months)]
    choice, ok = QInputDialog.getItem(parent, title, "Month:", labels, 1, False)
    return months[labels.index(choice)] if ok else None


def _save(parent: QWidget, title: str, suggested: str, data: bytes, pattern: str) -> Path | None:
    """Ask where, then write owner-only and whole (reports.output); a failure is one plain message."""
    name, _ = QFileDialog.getSaveFileName(parent, title, str(Path.home() / suggested), pattern)
    if not name:
        return None
    try:
        return write_private(name, data)
    except OutputError as exc:
        QMessageBox.warning(parent, "Not saved", str(exc))
        return None


def run_billing_report(parent: QWidget, ctx: AppContext) -> None:
    from cocm_desktop.reports.billing_packet import render_csv, render_pdf
    from cocm_desktop.services.billing_month import billing_month

    month = ask_month(parent, "Billing month")
    if month is None:
        return

    def work() -> tuple[bytes, str]:
        from cocm_desktop.services.billing_submissions import billing_adjustments, submission_for

        bm = ctx.read(billing_month, month)
        submitted = ctx.read(submission_for, bm.month)
        adjustments = ctx.read(billing_adjustments, month=bm.month) if submitted is not None else []
        return render_pdf(bm, submitted=submitted, adjustments=adjustments), render_csv(bm)

    def done(result: tuple[bytes, str]) -> None:
        from cocm_desktop.gui.print_preview import show_pdf_preview

        pdf, csv_text = result
        show_pdf_preview(parent, pdf, f"Billing packet {month:%B %Y}")  # Print… and Save as PDF… are there
        answer = QMessageBox.question(parent, "Billing month", "Save the billing CSV (one row per billable code) too?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            saved = _save(parent, "Save the billing CSV", f"billing-{month:%Y-%m}.csv", csv_text.encode("utf-8-sig"),
                          "CSV (*.csv)")
            if saved is not None:
                QMessageBox.information(parent, "Billing month", f"Saved {saved.name}.")

    run_in_background(work, done, lambda e: show_error(parent, e))


def mark_month_submitted_dialog(parent: QWidget, ctx: AppContext) -> None:
    """Reports › Mark billing month submitted…: the clinic lead records that a month's packet went
    to the billing office; later changes to that month are listed as adjustments in My work."""
    from cocm_desktop.services.billing_submissions import mark_month_submitted

    months = recent_months(date.today())[1:]  # months that have ended
    labels = [f"{m:%B %Y}" for m in months]
    choice, ok = QInputDialog.getItem(parent, "Mark billing month submitted",
                                      "Month whose packet went to the billing office:", labels, 0, False)
    if not ok:
        return
    month = months[labels.index(choice)]
    answer = QMessageBox.question(
        parent, "Mark billing month submitted",
        f"Mark {month:%B %Y} as submitted to the billing office?\n\nIts codes and minutes per patient are kept "
        "as submitted; any later change to that month is listed for you as a billing adjustment.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    if answer != QMessageBox.StandardButton.Yes:
        return

    def done(sub: Any) -> None:
        QMessageBox.information(parent, "Mark billing month submitted",
                                f"{month:%B %Y} marked submitted ({sub.patient_months} patient-months).")

    # every patient of the month may now have a submitted figure
    ctx.write(mark_month_submitted, month, changes=ChangeEvent(frozenset({Change.BILLING}), many=True), done=done,
              parent=parent)


def acknowledge_adjustment_dialog(parent: QWidget, ctx: AppContext, item: Any) -> bool:
    """A billing adjustment from My work: show before → after, who and why; the clinic lead
    acknowledges it once the billing office has the correction."""
    from cocm_desktop.services.billing_submissions import acknowledge_adjustment, billing_adjustments

    try:
        found = [a for a in ctx.read(billing_adjustments, month=item.ref_text) if a.patient_id == item.patient_id]
    except Exception as exc:  # noqa: BLE001 - shown as one plain message
        show_error(parent, exc)
        return False
    if not found:
        QMessageBox.information(parent, "Billing adjustment", "This adjustment is no longer pending.")
        return False
    a = found[0]
    why = "\n".join(a.changes) or "No recorded change names this patient."
    box = QMessageBox(QMessageBox.Icon.Question, "Billing adjustment",
                      f"{a.patient_name} ({a.mrn}), {a.month}\n\nCodes: {a.codes_text}\n"
                      f"Counted minutes: {a.minutes_text}\n\nChanged since the month was submitted:\n{why}",
                      QMessageBox.StandardButton.NoButton, parent)
    ack = box.addButton("Acknowledge (billing office told)", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    if box.clickedButton() is not ack:
        return False
    # `shown`: a change after these figures were read is refused, not acknowledged unseen
    ctx.write(acknowledge_adjustment, a.month, a.patient_id, shown=a,
              changes=event(Change.BILLING, patients=a.patient_id),
              parent=parent)  # the work item goes when its BILLING event reloads My work
    return True


def run_quality_report(parent: QWidget, ctx: AppContext) -> None:
    from cocm_desktop.reports.quality_report import build_quality_report
    from cocm_desktop.services.quality_report import quality_report_data

    month = ask_month(parent, "Quality check")
    if month is None:
        return

    def work() -> Any:
        return build_quality_report(ctx.read(quality_report_data, month))

    def done(pdf: bytes) -> None:
        from cocm_desktop.gui.print_preview import show_pdf_preview

        show_pdf_preview(parent, pdf, f"Quality check {month:%B %Y}")

    run_in_background(work, done, lambda e: show_error(parent, e))
