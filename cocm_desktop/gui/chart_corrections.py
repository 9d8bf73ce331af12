"""The chart's corrections: every list (scores, contacts, time, patient details) can be corrected
where the entry is shown — a context menu (Amend…, Void — entered in error…), double-click to
amend, the Delete key to void — each asking for a reason.

The actions are offered to the people the spec allows (domain.corrections.may_correct) and shown
disabled to the others with a tooltip saying who may; the service checks again and its refusal is
what counts. Each correction is one operation run off the GUI thread (the form waits); its change event
(CORRECTION and the kind corrected) reloads the chart, the registry and the timer.
"Show corrections" adds the voided entries, struck through, and the amended ones' history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QMenu, QMessageBox, QTableView

from cocm_desktop.domain import instruments as inst
from cocm_desktop.domain.activities import ACTIVITIES, CONTACT_KINDS, CONTACT_MODES
from cocm_desktop.domain.corrections import KIND_LABELS, may_correct, refusal
from cocm_desktop.gui.chart_widgets import selected_item, short_datetime
from cocm_desktop.gui.form_dialog import Field, FormDialog, expected
from cocm_desktop.gui.registry_model import RowRole, fmt_date
from cocm_desktop.services.changes import Change

# kinds handled by chart_corrections_entries (referrals, risk events, care plans, status, recommendations)
ENTRY_KINDS = ("referral", "risk_event", "care_plan_version", "episode_status_change", "recommendation")
REASON_HINT = "Kept in the history with your name and the time; the chart shows it on demand."


@dataclass(frozen=True)
class DetailRow:
    """One patient detail as the chart's Details list shows it."""

    id: str  # the field name (update_patient's keyword)
    label: str
    text: str
    value: Any
    kind: str  # FormDialog field kind
    required: bool = False
    row_version: int = 1  # the patient record's version this row showed (services.versions)


# (field, label, form kind, required)
DETAIL_FIELDS: tuple[tuple[str, str, str, bool], ...] = (
    ("mrn", "MRN", "line", True),
    ("family_name", "Family name", "line", True),
    ("given_name", "Given name", "line", True),
    ("date_of_birth", "Date of birth", "date", True),
    ("sex", "Sex", "line", False),
    ("phone", "Phone", "line", False),
    ("portal", "Uses the patient portal", "check", False),
    ("preferred_contact", "Preferred contact", "line", False),
    ("payer_name", "Payer", "line", False),
    ("member_id", "Member id", "line", False),
    ("last_seen_on", "Last seen by the practice", "datetext", False),
)


def detail_rows(patient: Any) -> list[DetailRow]:
    rows = []
    for name, label, kind, required in DETAIL_FIELDS:
        value = getattr(patient, name)
        if isinstance(value, bool):
            text = "Yes" if value else "No"
        elif isinstance(value, date):
            text = fmt_date(value)
        else:
            text = value or "—"
        rows.append(DetailRow(name, label, text, value, kind, required, getattr(patient, "row_version", 1)))
    return rows


def _change_text(field: str, before: Any, after: Any) -> str:
    def shown(v: Any) -> str:
        if v is None or v == "":
            return "—"
        if isinstance(v, list):
            return " ".join(str(x) for x in v)
        return str(v)

    return f"{field.replace('_', ' ')} {shown(before)} \u2192 {shown(after)}"


class DeleteKey(QObject):
    """Delete (or Backspace) on a list: void the selected entry, asking for the reason."""

    def __init__(self, view: QTableView, action: Callable[[], None]) -> None:
        super().__init__(view)
        self.action = action

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) \
                and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and not event.modifiers():
            self.action()
            return True
        return False


class ChartCorrections:
    """Mixin of `ChartPane` (uses `ctx`, `chart`, `patient_id` and the list views)."""

    # ---- wiring
    def _install_corrections(self) -> None:
        for view, kind in ((self.measures_view, "measure"), (self.contacts_view, "contact"),
                           (self.time_view, "time_entry"), (self.details_view, "patient"),
                           *self.entry_views()):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(lambda pos, v=view, k=kind: self._correction_menu(v, k, pos))
            view.doubleClicked.connect(lambda index, k=kind: self.amend_entry(k, index.data(RowRole)))
            view.installEventFilter(DeleteKey(view, lambda v=view, k=kind: self.void_entry(k, selected_item(v))))

    def showing_corrections(self) -> bool:
        return self.show_corrections.isChecked()

    # ---- who may
    def correction_refusal(self, kind: str, row: Any) -> str | None:
        """None when the signed-in person may correct this entry, else the sentence saying why not."""
        if row is None or self.chart is None:
            return "Select an entry first."
        if getattr(row, "voided", False) or getattr(row, "deleted", False):
            return "This entry was voided (entered in error); it stays in the history and counts nowhere."
        actor = self.ctx.actor
        ep = self.chart.episode
        if kind in ENTRY_KINDS:
            made_by, clinicians = self.entry_makers(kind, row), (ep.clinician_id,) if ep else ()
        elif kind == "measure":
            made_by, clinicians = row.entered_by_id, (ep.clinician_id,) if ep else ()
        elif kind == "contact":
            made_by, clinicians = row.staff_id, (ep.clinician_id,) if ep else ()
        elif kind == "time_entry":
            made_by, clinicians = row.staff_id, ()
        else:
            made_by, clinicians = self.chart.patient.created_by_id, self.chart.clinician_ids
        if not may_correct(actor.role, actor.user_id, kind, made_by=made_by, clinicians=clinicians):
            return refusal(kind)
        return None

    def _correction_menu(self, view: QTableView, kind: str, pos: QPoint) -> None:
        index = view.indexAt(pos)
        if index.isValid():
            view.setCurrentIndex(index)
        row = index.data(RowRole) if index.isValid() else None
        menu = self.correction_menu(kind, row)
        menu.exec(view.viewport().mapToGlobal(pos))

    def correction_menu(self, kind: str, row: Any) -> QMenu:
        """The context menu of an entry: Amend…, Void — entered in error… (disabled with the reason)."""
        menu = QMenu(self)
        menu.setObjectName("correctionMenu")
        menu.setToolTipsVisible(True)
        why_not = self.correction_refusal(kind, row)
        amend = menu.addAction(self.amend_label(kind), lambda: self.amend_entry(kind, row))
        amend.setObjectName("amendAction")
        if kind == "patient":
            void = menu.addAction("Clear this detail…", lambda: self.void_entry(kind, row))
            if why_not is None and row is not None and row.required:
                why_not_void: str | None = f"{row.label} is required; amend it instead."
            else:
                why_not_void = why_not
        else:
            void = menu.addAction("Void \u2014 entered in error\u2026", lambda: self.void_entry(kind, row))
            why_not_void = why_not
        void.setObjectName("voidAction")
        why_not_amend = why_not or self.extra_amend_refusal(kind, row)
        for action, reason in ((amend, why_not_amend), (void, why_not_void)):
            action.setEnabled(reason is None)
            action.setToolTip(reason or "")
        return menu

    def _refused_here(self, kind: str, row: Any) -> bool:
        why_not = self.correction_refusal(kind, row)
        if why_not is not None:
            QMessageBox.information(self, "Corrections", why_not)
            return True
        return False

    # ---- dialogs
    def _correction_form(self, title: str, fields: list[Field], work: Callable[[dict[str, Any]], Any], *,
                         intro: str, ok: str) -> FormDialog:
        dialog = FormDialog(title, fields, self, intro=intro, ok_text=ok, submit=work)
        dialog.setObjectName("correctionDialog")
        self.correction_dialog = dialog  # the one open now (tests drive it)
        dialog.exec()
        return dialog

    def _reason_field(self, label: str = "Reason") -> Field:
        return Field("reason", label, "text", True, hint=REASON_HINT)

    def void_entry(self, kind: str, row: Any) -> None:
        """Void (entered in error) with a reason; for a patient detail, clear it (an amendment)."""
        if self._refused_here(kind, row):
            return
        if kind == "patient":
            if row.required:
                QMessageBox.information(self, "Corrections", f"{row.label} is required; amend it instead.")
                return
            self._amend_detail(row, clear=True)
            return
        if kind in ENTRY_KINDS:
            self.void_other_entry(kind, row)
            return
        from cocm_desktop.services.contacts import void_contact
        from cocm_desktop.services.measures import void_measure
        from cocm_desktop.services.time_log import delete_time_entry

        what = self._describe(kind, row)
        ctx, pid = self.ctx, self.patient_id
        if kind == "measure":
            def work(v):  # type: ignore[no-untyped-def]
                return ctx.write(void_measure, row.id, reason=v["reason"], expected_version=expected(v, row.row_version), patient_id=pid,
                                 changes=(Change.CORRECTION, Change.MEASURE))
        elif kind == "contact":
            def work(v):  # type: ignore[no-untyped-def]
                return ctx.write(void_contact, row.id, reason=v["reason"], expected_version=expected(v, row.row_version), patient_id=pid,
                                 changes=(Change.CORRECTION, Change.CONTACT, Change.TIME))
        else:
            def work(v):  # type: ignore[no-untyped-def]
                return ctx.write(delete_time_entry, row.id, v["reason"], expected_version=expected(v, row.row_version), patient_id=pid,
                                 changes=(Change.CORRECTION, Change.TIME))
        extra = " Its minutes are voided with it." if kind == "contact" and row.minutes else ""
        dialog = self._correction_form(
            "Void \u2014 entered in error", [self._reason_field("Why is it in error?")], work,
            intro=f"{what}. A voided entry stays in the chart's history, struck through, and counts nowhere: "
                  f"registry, flags, outcomes, billing and packets.{extra}",
            ok="Void entry")
        result = dialog.result_value
        if kind == "measure" and result is not None and getattr(result, "open_risk_event_id", None):
            QMessageBox.warning(self, "Risk event stays open",
                                "This PHQ-9 opened a risk event that is still open. Voiding the score does not "
                                "close it: record its outcome once the safety follow-up is done.")

    def amend_entry(self, kind: str, row: Any) -> None:
        if self._refused_here(kind, row):
            return
        extra = self.extra_amend_refusal(kind, row)
        if extra is not None:
            QMessageBox.information(self, "Corrections", extra)
            return
        if kind in ENTRY_KINDS:
            self.amend_other_entry(kind, row)
        elif kind == "measure":
            self._amend_measure(row)
        elif kind == "contact":
            self._amend_contact(row)
        elif kind == "time_entry":
            self._amend_time(row)
        else:
            self._amend_detail(row)

    def _describe(self, kind: str, row: Any) -> str:
        if kind == "measure":
            return f"{row.instrument} {row.total} taken {short_datetime(row.taken_at)}, entered by {row.entered_by}"
        if kind == "contact":
            return f"{CONTACT_KINDS.get(row.kind, row.kind)} contact {short_datetime(row.contact_at)} by {row.staff}"
        return f"{row.minutes} min of {row.activity_label.lower()} on {fmt_date(row.local_date)} by {row.staff_name}"

    def _amend_measure(self, m: Any) -> None:
        from cocm_desktop.services.measures import amend_measure

        labels = inst.ITEM_LABELS.get(m.instrument) or inst.ITEM_TEXTS[m.instrument]
        answers = [(f"{n} \u2014 {text}", n) for n, text in enumerate(inst.ANSWER_OPTIONS)]
        fields = [Field("taken_at", "Taken", "datetime", True, m.taken_at)]
        fields += [Field(f"item{i}", f"{i + 1}. {label[:1].upper()}{label[1:]}", "choice", True, m.items[i],
                         choices=answers) for i, label in enumerate(labels)]
        fields.append(self._reason_field())
        ctx, pid = self.ctx, self.patient_id

        def work(v: dict[str, Any]) -> Any:
            items = [v[f"item{i}"] for i in range(len(labels))]
            taken = v["taken_at"] if v["taken_at"] != m.taken_at.replace(second=0, microsecond=0) else None
            return ctx.write(amend_measure, m.id, reason=v["reason"], items=items, taken_at=taken, expected_version=expected(v, m.row_version), patient_id=pid,
                             changes=(Change.CORRECTION, Change.MEASURE))

        dialog = self._correction_form(
            f"Amend {m.instrument}", fields, work, ok="Save amendment",
            intro=f"{self._describe('measure', m)}. The total is scored again from the answers; the old answers "
                  "stay in the history.")
        result = dialog.result_value
        if result is not None and result.risk_event_id:
            QMessageBox.warning(self, "Risk workflow opened",
                                "PHQ-9 item 9 is now above 0: a risk event is open on this chart. Complete the "
                                "safety assessment now, notify the treating clinician, and record the outcome.")

    def _amend_contact(self, c: Any) -> None:
        from cocm_desktop.services.contacts import amend_contact

        fields = [
            Field("contact_at", "When", "datetime", True, c.contact_at),
            Field("mode", "Mode", "choice", True, c.mode, choices=[(v, k) for k, v in CONTACT_MODES.items()]),
            Field("kind", "Kind", "choice", True, c.kind, choices=[(v, k) for k, v in CONTACT_KINDS.items()]),
            Field("reached", "Reached (an outreach attempt may not be)", "check", value=c.reached),
            Field("minutes", "Minutes", "int", value=c.minutes, maximum=480),
            Field("next_step", "Next step", required=True, value=c.next_step),
            Field("next_step_on", "Next step on", "date", True, c.next_step_on),
            Field("summary", "Summary", "text", value=c.summary),
            Field("adherence", "Adherence", value=c.adherence),
            Field("side_effects", "Side effects", value=c.side_effects),
            Field("skill_practised", "Skill practised", value=c.skill_practised),
            Field("question_for_consultant", "Question for the consultant", "text", value=c.question_for_consultant),
            self._reason_field(),
        ]
        ctx, pid = self.ctx, self.patient_id
        original = {f.name: f.value for f in fields if f.name != "reason"}
        original["contact_at"] = c.contact_at.replace(second=0, microsecond=0)

        def work(v: dict[str, Any]) -> Any:
            changes = {k: val for k, val in v.items() if k != "reason" and val != original.get(k)}
            return ctx.write(amend_contact, c.id, reason=v["reason"], expected_version=expected(v, c.row_version), patient_id=pid,
                             changes=(Change.CORRECTION, Change.CONTACT, Change.TIME), **changes)

        self._correction_form(
            "Amend contact", fields, work, ok="Save amendment", intro=(
                f"{self._describe('contact', c)}. The corrected values count from now on; the old ones stay in the "
                "history. Its time entry follows the minutes, the day and the kind."))

    def _amend_time(self, t: Any) -> None:
        from cocm_desktop.services.time_log import MAX_MINUTES, update_time_entry

        fields = [
            Field("local_date", "Date", "date", True, t.local_date),
            Field("minutes", "Minutes", "int", True, t.minutes, minimum=1, maximum=MAX_MINUTES),
            Field("activity", "Activity", "choice", True, t.activity, choices=[(v, k) for k, v in ACTIVITIES.items()]),
            self._reason_field(),
        ]
        ctx, pid = self.ctx, self.patient_id

        def work(v: dict[str, Any]) -> Any:
            changes = {k: v[k] for k in ("local_date", "minutes", "activity") if v[k] != getattr(t, k)}
            return ctx.write(update_time_entry, t.id, reason=v["reason"], expected_version=expected(v, t.row_version), patient_id=pid,
                             changes=(Change.CORRECTION, Change.TIME), **changes)

        timed = " A timed entry keeps its start; its end follows the minutes." if t.started_at else ""
        self._correction_form(
            "Amend time entry", fields, work, ok="Save amendment", intro=(
                f"{self._describe('time_entry', t)}. The month's minutes and codes follow at once; the old values "
                f"stay in the history.{timed}"))

    def _amend_detail(self, d: DetailRow, *, clear: bool = False) -> None:
        from cocm_desktop.services.patients import update_patient

        value = None if clear else d.value
        fields = [Field("value", d.label, d.kind, d.required and d.kind != "check", value), self._reason_field()]
        ctx, pid = self.ctx, self.patient_id

        def work(v: dict[str, Any]) -> Any:
            return ctx.write(update_patient, reason=v["reason"], expected_version=expected(v, d.row_version), patient_id=pid,
                             changes=(Change.CORRECTION, Change.PATIENT), **{d.id: v["value"]})

        verb = "Clear" if clear else "Amend"
        self._correction_form(
            f"{verb} {d.label.lower()}", fields, work, ok="Save amendment",
            intro=f"Now: {d.text}. The corrected value is used everywhere from now on (registry, packets, billing); "
                  "the old one stays in the history.")

    # ---- showing corrections
    def corrections_of(self, kind: str, entry_id: int) -> list[Any]:
        return [h for h in (self.chart.corrections if self.chart else ()) if h.object_type == kind
                and h.object_id == entry_id]

    def correction_tip(self, kind: str, row: Any) -> str | None:
        """The row's history for its tooltip: voided by whom, when and why; each amendment."""
        lines = []
        for h in self.corrections_of(kind, row.id if kind != "patient" else self.patient_id):
            if kind == "patient" and row.id not in h.changes:
                continue
            who = f"{h.corrected_by}, {short_datetime(h.corrected_at)}"
            if h.action == "void":
                lines.append(f"Voided (entered in error) \u2014 {who}: {h.reason}")
            else:
                fields = {row.id: h.changes[row.id]} if kind == "patient" else h.changes
                what = "; ".join(_change_text(k, a, b) for k, (a, b) in fields.items())
                lines.append(f"Amended \u2014 {who}: {what}. Why: {h.reason}")
        return "\n".join(lines) or None

    def amended_ids(self, kind: str) -> set[Any]:
        if self.chart is None:
            return set()
        if kind == "patient":
            return {k for h in self.chart.corrections if h.object_type == "patient" for k in h.changes}
        return {h.object_id for h in self.chart.corrections if h.object_type == kind and h.action == "amend"}

    def corrections_html(self) -> str:
        """The History tab's list of every correction of this patient's entries, newest first."""
        from cocm_desktop.gui.chart_widgets import E

        items = []
        for h in reversed(self.chart.corrections if self.chart else ()):
            what = KIND_LABELS.get(h.object_type, h.object_type)
            if h.action == "void":
                head = f"<b>Voided</b> {E(what)} (entered in error)"
                body = ""
            else:
                head = f"<b>Amended</b> {E(what)}"
                body = "; ".join(E(_change_text(k, a, b)) for k, (a, b) in h.changes.items())
                body = f"<br><span style='color:#486581'>{body}</span>"
            items.append(f"<li>{short_datetime(h.corrected_at)} \u2014 {head} by {E(h.corrected_by)}. Why: {E(h.reason)}{body}</li>")
        return "<h4>Corrections</h4><ul>" + ("".join(items) or "<li>None</li>") + "</ul>"
