"""The chart's Medications tab: the current regimen and every earlier line, the history of changes
(started, dose changed, stopped — who and why) and the approved changes not on the list yet.

Actions (services.medications; the service's refusal is what counts):
- Add medication… (care manager or clinician: what the patient takes), Change dose… and Stop…
  (the treating clinician), from the buttons or the context menu of a line;
- corrections like every chart list: double-click amends a wrong value, Delete voids a line entered
  in error, both with a reason; "Show corrections" lists the voided lines, struck through;
- a change waiting for the clinician (its drug matched no single line): Apply… chooses the line.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from cocm_desktop.domain.corrections import may_correct, refusal
from cocm_desktop.domain.roles import Permission, denial_message
from cocm_desktop.gui.chart_corrections import REASON_HINT, DeleteKey
from cocm_desktop.gui.chart_widgets import E, rich_label, scrolled, selected_item, table_view
from cocm_desktop.gui.form_dialog import Field, FormDialog, expected
from cocm_desktop.gui.registry_model import RowRole, fmt_date
from cocm_desktop.gui.table_model import Col, RecordTableModel
from cocm_desktop.services.changes import Change

STOPPED_GREY = "#627D98"
DASH = "\u2014"


def _since(m: Any) -> str:
    return fmt_date(m.started_on) if m.started_on else "\u2014"


def _why(m: Any) -> str:
    if m.voided:
        return f"Voided: {m.void_reason or ''}"
    if m.stopped_on is not None:
        return f"Stopped: {m.stop_reason or 'no reason recorded'}"
    return m.start_reason or m.note or ""


class ChartMedications:
    """Mixin of `ChartPane` (uses `ctx`, `chart`, `patient_id`, `tabs`, `_write`, `show_corrections`)."""

    # ---- layout
    def _build_medications_tab(self) -> QWidget:
        tab = QWidget()
        tab.setObjectName("medicationsTab")
        lay = QVBoxLayout(tab)
        self.meds_pending = QLabel("", tab)
        self.meds_pending.setObjectName("medicationsPending")
        self.meds_pending.setWordWrap(True)
        self.meds_pending.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.meds_pending)
        self.meds_model = RecordTableModel([
            Col("Medication", lambda m: m.name, width=130, bold=lambda m: m.current),
            Col("Dose", lambda m: m.dose, width=70),
            Col("Schedule", lambda m: m.schedule or "", width=110),
            Col("Since", _since, lambda m: (m.started_on.toordinal() if m.started_on else 0, m.id), width=86),
            Col("Stopped", lambda m: fmt_date(m.stopped_on) if m.stopped_on else "current",
                lambda m: (m.stopped_on is not None, -(m.stopped_on.toordinal() if m.stopped_on else 0)), width=80,
                color=lambda m: STOPPED_GREY if m.stopped_on else "#1B5E20"),
            Col("Why", lambda m: _why(m) + self._marker("medication", m), tip=_why),
        ], self, struck=lambda m: m.voided, row_tip=lambda m: self.correction_tip("medication", m))
        self.meds_view = table_view(tab, self.meds_model, "medicationsTable")
        self.meds_view.sortByColumn(4, Qt.SortOrder.AscendingOrder)
        self.meds_view.selectionModel().currentRowChanged.connect(lambda *_: self._apply_medication_buttons())
        lay.addWidget(self.meds_view, 3)
        row = QHBoxLayout()
        self.add_med_button = QPushButton("Add medication\u2026", tab)
        self.add_med_button.setObjectName("addMedicationButton")
        self.add_med_button.clicked.connect(self.add_medication)
        self.change_dose_button = QPushButton("Change dose\u2026", tab)
        self.change_dose_button.setObjectName("changeDoseButton")
        self.change_dose_button.clicked.connect(lambda: self.change_dose(selected_item(self.meds_view)))
        self.stop_med_button = QPushButton("Stop\u2026", tab)
        self.stop_med_button.setObjectName("stopMedicationButton")
        self.stop_med_button.clicked.connect(lambda: self.stop_medication(selected_item(self.meds_view)))
        self.apply_proposal_button = QPushButton("Apply approved change\u2026", tab)
        self.apply_proposal_button.setObjectName("applyProposalButton")
        self.apply_proposal_button.clicked.connect(self.apply_proposal)
        for b in (self.add_med_button, self.change_dose_button, self.stop_med_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.apply_proposal_button)
        lay.addLayout(row)
        self.meds_history = rich_label(tab)
        self.meds_history.setObjectName("medicationHistory")
        lay.addWidget(scrolled(self.meds_history), 2)
        return tab

    def _install_medications(self) -> None:
        view = self.meds_view
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._medication_menu_at)
        view.doubleClicked.connect(lambda index: self.amend_medication(index.data(RowRole)))
        view.installEventFilter(DeleteKey(view, lambda: self.void_medication(selected_item(view))))

    # ---- filling
    def _fill_medications(self) -> None:
        lst = self.chart.medication_list if self.chart is not None else None
        if lst is None:
            self.meds_model.set_rows([])
            self.meds_pending.setText("")
            self.meds_history.setText("")
            self._apply_medication_buttons()
            return
        every = self.show_corrections.isChecked()
        self.meds_model.set_rows([m for m in lst.lines if every or not m.voided])
        pending = [f"<b style='color:#8A4B00'>Approved change not on the list yet:</b> {E(p.description)} "
                   f"\u2014 {E(p.state_label.lower())}" + (f" ({E(p.note)})" if p.note else "")
                   for p in lst.proposals]
        self.meds_pending.setText("<br>".join(pending))
        self.meds_pending.setVisible(bool(pending))
        items = "".join(
            f"<li>{fmt_date(c.on) if c.on else DASH} \u2014 <b>{E(c.what)}</b> {E(c.name)} {E(c.detail)}"
            f" <span style='color:#627D98'>by {E(c.by)}</span>" + (f"<br><i>{E(c.why)}</i>" if c.why else "")
            + "</li>" for c in lst.changes)
        current = ", ".join(f"{E(m.name)} {E(m.regimen)}" for m in lst.current) or "none recorded"
        self.meds_history.setText(f"<p><b>Current regimen:</b> {current}</p>"
                                  f"<h4>History</h4><ul>{items or '<li>No medication recorded.</li>'}</ul>")
        current_count = len(lst.current)
        index = self.tabs.indexOf(self.meds_tab)
        if index >= 0:
            self.tabs.setTabText(index, f"Medications ({current_count})" if current_count else "Medications")
        self._apply_medication_buttons()

    def _apply_medication_buttons(self) -> None:
        ep = self.chart.episode if self.chart else None
        open_ep = ep is not None and ep.status != "closed"
        row = selected_item(self.meds_view)
        for button, perm, needs_line in ((self.add_med_button, Permission.RECORD_MEDICATION, False),
                                         (self.change_dose_button, Permission.CHANGE_MEDICATION, True),
                                         (self.stop_med_button, Permission.CHANGE_MEDICATION, True)):
            why_not = self._medication_refusal(perm, row if needs_line else None, needs_line, open_ep)
            button.setEnabled(why_not is None)
            button.setToolTip(why_not or "")
        waiting = self.chart is not None and self.chart.medication_list is not None and any(
            p.state == "needs_review" for p in self.chart.medication_list.proposals)
        self.apply_proposal_button.setVisible(waiting)
        self.apply_proposal_button.setEnabled(waiting and self.ctx.can(Permission.CHANGE_MEDICATION) and open_ep)
        if not self.ctx.can(Permission.CHANGE_MEDICATION):
            self.apply_proposal_button.setToolTip(denial_message(self.ctx.role, Permission.CHANGE_MEDICATION))

    def _medication_refusal(self, perm: Permission, row: Any, needs_line: bool, open_ep: bool) -> str | None:
        if not self.ctx.can(perm):
            return denial_message(self.ctx.role, perm)
        if not open_ep:
            return "The episode is closed."
        if needs_line:
            if row is None:
                return "Select a current medication first."
            if not row.current:
                return "This line is not current (stopped or voided)."
        return None

    # ---- context menu
    def _medication_menu_at(self, pos: QPoint) -> None:
        index = self.meds_view.indexAt(pos)
        if index.isValid():
            self.meds_view.setCurrentIndex(index)
        row = index.data(RowRole) if index.isValid() else None
        self.medication_menu(row).exec(self.meds_view.viewport().mapToGlobal(pos))

    def medication_menu(self, row: Any) -> QMenu:
        """Change dose…, Stop…, then Amend…, Void — entered in error… (disabled with the reason)."""
        menu = QMenu(self)
        menu.setObjectName("medicationMenu")
        menu.setToolTipsVisible(True)
        ep = self.chart.episode if self.chart else None
        open_ep = ep is not None and ep.status != "closed"
        change = menu.addAction("Change dose\u2026", lambda: self.change_dose(row))
        change.setObjectName("changeDoseAction")
        stop = menu.addAction("Stop\u2026", lambda: self.stop_medication(row))
        stop.setObjectName("stopAction")
        menu.addSeparator()
        amend = menu.addAction("Amend\u2026", lambda: self.amend_medication(row))
        amend.setObjectName("amendAction")
        void = menu.addAction("Void \u2014 entered in error\u2026", lambda: self.void_medication(row))
        void.setObjectName("voidAction")
        correction = self.medication_correction_refusal(row)
        for action, why_not in (
                (change, self._medication_refusal(Permission.CHANGE_MEDICATION, row, True, open_ep)),
                (stop, self._medication_refusal(Permission.CHANGE_MEDICATION, row, True, open_ep)),
                (amend, correction), (void, correction)):
            action.setEnabled(why_not is None)
            action.setToolTip(why_not or "")
        return menu

    def medication_correction_refusal(self, row: Any) -> str | None:
        if row is None or self.chart is None:
            return "Select an entry first."
        if row.voided:
            return "This entry was voided (entered in error); it stays in the history and counts nowhere."
        ep = self.chart.episode
        actor = self.ctx.actor
        if not may_correct(actor.role, actor.user_id, "medication", made_by=row.recorded_by_id,
                           clinicians=(ep.clinician_id,) if ep else ()):
            return refusal("medication")
        return None

    # ---- actions
    def _medication_form(self, title: str, fields: list[Field], work: Any, *, intro: str, ok: str) -> FormDialog:
        dialog = FormDialog(title, fields, self, intro=intro, ok_text=ok, submit=work)
        dialog.setObjectName("medicationDialog")
        self.medication_dialog = dialog  # the one open now (tests drive it)
        dialog.exec()
        return dialog

    def add_medication(self) -> None:
        from cocm_desktop.services.medications import add_medication

        ep = self.chart.episode if self.chart else None
        if ep is None:
            return
        ctx, pid = self.ctx, self.patient_id
        fields = [
            Field("name", "Medication", required=True),
            Field("dose", "Dose", required=True, hint="e.g. 50 mg"),
            Field("schedule", "Schedule", hint="e.g. daily, at night, as needed"),
            Field("started_on", "Started", "datetext", hint="Leave empty when not known."),
            Field("reason", "Why", "text", hint="Why it was started, or who prescribed it."),
        ]

        def work(v: dict[str, Any]) -> Any:
            return ctx.write(add_medication, ep.id, name=v["name"], dose=v["dose"], schedule=v["schedule"] or None,
                             started_on=v["started_on"], reason=v["reason"] or None, patient_id=pid,
                             changes=Change.MEDICATION)

        self._medication_form("Add medication", fields, work, ok="Add", intro=(
            "A medication the patient takes now: started here, or by another prescriber. A dose change of a "
            "listed medication is Change dose (the treating clinician)."))

    def change_dose(self, row: Any) -> None:
        from datetime import date

        from cocm_desktop.services.medications import change_dose

        if self._medication_refused(Permission.CHANGE_MEDICATION, row):
            return
        ctx, pid = self.ctx, self.patient_id
        fields = [
            Field("dose", "New dose", required=True, value=row.dose),
            Field("schedule", "Schedule", value=row.schedule or ""),
            Field("changed_on", "From", "date", True, date.today()),
            Field("reason", "Why", "text", True, hint=REASON_HINT),
        ]

        def work(v: dict[str, Any]) -> Any:
            return ctx.write(change_dose, row.id, dose=v["dose"], schedule=v["schedule"] or None,
                             changed_on=v["changed_on"], reason=v["reason"], patient_id=pid,
                             expected_version=expected(v, row.row_version), changes=Change.MEDICATION)

        self._medication_form(f"Change dose of {row.name}", fields, work, ok="Change dose", intro=(
            f"Now {row.name} {row.regimen}, since {_since(row)}. This line stops on the day you give and a new line "
            "starts at the new dose; both stay in the history."))

    def stop_medication(self, row: Any) -> None:
        from datetime import date

        from cocm_desktop.services.medications import stop_medication

        if self._medication_refused(Permission.CHANGE_MEDICATION, row):
            return
        ctx, pid = self.ctx, self.patient_id
        fields = [Field("stopped_on", "Stopped on", "date", True, date.today()),
                  Field("reason", "Why", "text", True, hint=REASON_HINT)]

        def work(v: dict[str, Any]) -> Any:
            return ctx.write(stop_medication, row.id, stopped_on=v["stopped_on"], reason=v["reason"], patient_id=pid,
                             expected_version=expected(v, row.row_version), changes=Change.MEDICATION)

        self._medication_form(f"Stop {row.name}", fields, work, ok="Stop medication",
                              intro=f"{row.name} {row.regimen}, since {_since(row)}. It leaves the current regimen; "
                                    "the line stays in the history with who stopped it and why.")

    def _medication_refused(self, perm: Permission, row: Any) -> bool:
        from PySide6.QtWidgets import QMessageBox

        ep = self.chart.episode if self.chart else None
        why_not = self._medication_refusal(perm, row, True, ep is not None and ep.status != "closed")
        if why_not is not None:
            QMessageBox.information(self, "Medications", why_not)
            return True
        return False

    def amend_medication(self, row: Any) -> None:
        from PySide6.QtWidgets import QMessageBox

        from cocm_desktop.services.medications import amend_medication

        why_not = self.medication_correction_refusal(row)
        if why_not is not None:
            QMessageBox.information(self, "Corrections", why_not)
            return
        ctx, pid = self.ctx, self.patient_id
        fields = [
            Field("name", "Medication", required=True, value=row.name),
            Field("dose", "Dose", required=True, value=row.dose),
            Field("schedule", "Schedule", value=row.schedule or ""),
            Field("started_on", "Started", "datetext", value=row.started_on),
        ]
        if row.stopped_on is not None:
            fields.append(Field("stopped_on", "Stopped", "datetext", value=row.stopped_on,
                                hint="Empty it to undo a stop entered in error."))
        fields.append(Field("reason", "Reason", "text", True, hint=REASON_HINT))
        original = {f.name: f.value for f in fields if f.name != "reason"}

        def norm(key: str, value: Any) -> Any:
            return (value or None) if key == "schedule" else value

        def work(v: dict[str, Any]) -> Any:
            changes = {k: norm(k, val) for k, val in v.items()
                       if k != "reason" and norm(k, val) != norm(k, original.get(k))}
            return ctx.write(amend_medication, row.id, reason=v["reason"], expected_version=expected(v, row.row_version), patient_id=pid,
                             changes=(Change.CORRECTION, Change.MEDICATION), **changes)

        self._medication_form(f"Amend {row.name}", fields, work, ok="Save amendment", intro=(
            "Correct a value entered wrongly (a typo, a wrong date); the old value stays in the history. "
            "A real change of dose is Change dose, not an amendment."))

    def void_medication(self, row: Any) -> None:
        from PySide6.QtWidgets import QMessageBox

        from cocm_desktop.services.medications import void_medication

        why_not = self.medication_correction_refusal(row)
        if why_not is not None:
            QMessageBox.information(self, "Corrections", why_not)
            return
        ctx, pid = self.ctx, self.patient_id

        def work(v: dict[str, Any]) -> Any:
            return ctx.write(void_medication, row.id, reason=v["reason"], expected_version=expected(v, row.row_version), patient_id=pid,
                             changes=(Change.CORRECTION, Change.MEDICATION))

        back = " The line it replaced is current again." if row.supersedes_id else ""
        self._medication_form("Void \u2014 entered in error", [Field("reason", "Why is it in error?", "text", True,
                                                                      hint=REASON_HINT)], work, ok="Void entry",
                              intro=f"{row.name} {row.regimen}, since {_since(row)}, recorded by {row.recorded_by}. "
                                    f"A voided line stays in the history, struck through, and is on no list or "
                                    f"packet.{back}")

    def apply_proposal(self) -> None:
        from cocm_desktop.services.medications import apply_proposal

        lst = self.chart.medication_list if self.chart else None
        waiting = [p for p in (lst.proposals if lst else ()) if p.state == "needs_review"]
        if not waiting or lst is None:
            return
        proposal = waiting[0]
        lines = [f"{m.name} {m.regimen}" for m in lst.current]
        if proposal.action == "start":
            self._write(apply_proposal, proposal.id, changes=(Change.MEDICATION, Change.RECOMMENDATION))
            return
        if not lines:
            return
        choice, ok = QInputDialog.getItem(self, "Apply approved change",
                                          f"{proposal.description}: which current medication does it change?",
                                          lines, 0, False)
        if ok:
            self._write(apply_proposal, proposal.id, line_id=lst.current[lines.index(choice)].id,
                        changes=(Change.MEDICATION, Change.RECOMMENDATION))
