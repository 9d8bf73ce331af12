"""Case-review pane: choose a session (consultant, care manager, date: one session reviews one care
manager's caseload), its agenda as the spec orders it (safety flags, carried over, then by group)
and the patients not reached (carried first to the next session), add/drop patients, discussion
notes, the consultant's recommendations recorded inline, and the printed packet of that session
(`reports.case_review_packet`, built off the GUI thread, saved only where the user says).

The agenda list (grouping, model, view, how an entry reads) is in `case_review_agenda`, the inline
recommendation form in `case_review_recommendation`; the session header, loading, the selected
entry's detail and the actions are here.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.gui.case_review_agenda import GroupHeader, agenda_model, agenda_table, entry_html, grouped
from cocm_desktop.gui.case_review_recommendation import RecommendationForm
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import show_error
from cocm_desktop.gui.form_dialog import Field, FormDialog
from cocm_desktop.gui.operations import Operation
from cocm_desktop.gui.registry_model import RowRole, fmt_long
from cocm_desktop.gui.resources import ACCENT, icon
from cocm_desktop.gui.worker import BusyOverlay, PaneLoad, run_in_background
from cocm_desktop.services.changes import Change, ChangeEvent

#: what the case-review pane shows: sessions and agendas, recommendations, and what builds an agenda
#: (safety, scores, enrollment and status, medications, corrections, names, the policy's sizes)
SHOWN = frozenset({Change.CASE_REVIEW, Change.RECOMMENDATION, Change.RISK, Change.MEASURE, Change.EPISODE,
                   Change.PATIENT, Change.MEDICATION, Change.CORRECTION, Change.USERS, Change.POLICY})

PACKET_MODULE = "cocm_desktop.reports.case_review_packet"
__all__ = ["CaseReviewPane", "GroupHeader", "packet_available"]


def packet_available() -> bool:
    try:
        return importlib.util.find_spec(PACKET_MODULE) is not None
    except ModuleNotFoundError:
        return False


class CaseReviewPane(PaneLoad, QWidget):
    openChart = Signal(int)
    loaded = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None, registry_rows=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.ctx = context
        self.review: Any = None
        self.sessions: list[Any] = []  # services.case_review.SessionSummary
        self.people: tuple[list[tuple[int, str]], list[tuple[int, str]]] | None = None  # consultants, cms
        # Whose sessions are listed: a care manager sees their own caseload, a consultant their own.
        role = context.actor.role
        self.filter_cm: int | None = context.actor.user_id if role == Role.CARE_MANAGER.value else None
        self.filter_consultant: int | None = context.actor.user_id if role == Role.PSYCHIATRIST.value else None
        self.recs: dict[int, list[Any]] = {}
        self.review_id: int | None = None
        self._stale = True
        self._generation = 0
        self.loading = False
        self._registry_rows = registry_rows or (lambda: [])
        self._build()
        context.changes.connect(self.on_changes)

    # ---- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        header = QFrame(self)
        header.setObjectName("PaneHeader")
        hl = QVBoxLayout(header)
        hl.setContentsMargins(20, 14, 20, 12)
        top = QHBoxLayout()
        title = QLabel("Case review", header)
        title.setProperty("role", "title")
        top.addWidget(title)
        top.addStretch(1)
        can_manage = self.ctx.can(Permission.MANAGE_CASE_REVIEW)
        self.new_button = QPushButton(icon("plus", ACCENT, 16), "New session…", header)
        self.new_button.clicked.connect(self.new_session)
        self.rebuild_button = QPushButton(icon("refresh", ACCENT, 16), "Rebuild agenda", header)
        self.rebuild_button.setToolTip("Rebuild the automatic agenda from today's registry (additions and drops are kept)")
        self.rebuild_button.clicked.connect(self.rebuild)
        self.add_button = QPushButton(icon("plus", ACCENT, 16), "Add patient…", header)
        self.add_button.setObjectName("addToAgenda")
        self.add_button.clicked.connect(self.add_patient)
        for b in (self.new_button, self.rebuild_button, self.add_button):
            b.setEnabled(can_manage)
            if not can_manage:
                b.setToolTip("The care manager or the psychiatric consultant prepares the case review.")
            top.addWidget(b)
        self.print_button = QPushButton(icon("print", ACCENT, 16), "Print packet…", header)
        self.print_button.setObjectName("printPacket")
        self.print_button.clicked.connect(self.print_packet)
        if not packet_available():
            self.print_button.setEnabled(False)
            self.print_button.setToolTip("The case-review packet is not available in this version yet.")
        top.addWidget(self.print_button)
        hl.addLayout(top)
        choose = QHBoxLayout()
        choose.setSpacing(6)
        self.consultant_combo = QComboBox(header)
        self.consultant_combo.setObjectName("reviewConsultant")
        self.consultant_combo.setMinimumWidth(180)
        self.consultant_combo.activated.connect(lambda _i: self._filter_chosen())
        self.cm_combo = QComboBox(header)
        self.cm_combo.setObjectName("reviewCareManager")
        self.cm_combo.setMinimumWidth(180)
        self.cm_combo.activated.connect(lambda _i: self._filter_chosen())
        self.session_combo = QComboBox(header)
        self.session_combo.setObjectName("reviewSession")
        self.session_combo.setMinimumWidth(300)
        self.session_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.session_combo.activated.connect(self._session_chosen)
        for text, combo in (("Consultant", self.consultant_combo), ("Care manager", self.cm_combo),
                            ("Session", self.session_combo)):
            label = QLabel(text, header)
            label.setProperty("role", "muted")
            label.setBuddy(combo)
            choose.addWidget(label)
            choose.addWidget(combo)
            choose.addSpacing(10)
        choose.addStretch(1)
        hl.addLayout(choose)
        self.info = QLabel("", header)
        self.info.setProperty("role", "muted")
        hl.addWidget(self.info)
        outer.addWidget(header)

        body = QWidget(self)
        bl = QVBoxLayout(body)
        bl.setContentsMargins(16, 12, 16, 12)
        split = QSplitter(Qt.Orientation.Horizontal, body)
        split.setChildrenCollapsible(False)
        self.model = agenda_model(self)
        self.table = agenda_table(split, self.model)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_item())
        self.table.doubleClicked.connect(lambda _i: self._open_chart())
        split.addWidget(self.table)

        detail = QFrame(split)
        detail.setProperty("card", True)
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(16, 12, 16, 12)
        row = QHBoxLayout()
        self.item_title = QLabel("", detail)
        self.item_title.setProperty("role", "subtitle")
        row.addWidget(self.item_title, 1)
        self.chart_button = QPushButton("Open chart", detail)
        self.chart_button.clicked.connect(self._open_chart)
        self.move_button = QPushButton("Put on this agenda", detail)
        self.move_button.setObjectName("moveOntoAgenda")
        self.move_button.setToolTip("Make room for this patient in this session (added by hand: stays on)")
        self.move_button.clicked.connect(self.move_selected_onto_agenda)
        self.drop_button = QPushButton("Drop from agenda", detail)
        self.drop_button.setProperty("danger", True)
        self.drop_button.clicked.connect(self.drop_selected)
        row.addWidget(self.chart_button)
        row.addWidget(self.move_button)
        row.addWidget(self.drop_button)
        dl.addLayout(row)
        self.item_body = QLabel("", detail)
        self.item_body.setWordWrap(True)
        self.item_body.setTextFormat(Qt.TextFormat.RichText)
        self.item_body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        dl.addWidget(self.item_body)
        self.discussion = QPlainTextEdit(detail)
        self.discussion.setPlaceholderText("Discussion notes")
        self.discussion.setMaximumHeight(80)
        self.discussion.setTabChangesFocus(True)
        dl.addWidget(self.discussion)
        drow = QHBoxLayout()
        drow.addStretch(1)
        self.discussed_button = QPushButton("Mark discussed", detail)
        self.discussed_button.setObjectName("markDiscussed")
        self.discussed_button.clicked.connect(self.mark_discussed)
        drow.addWidget(self.discussed_button)
        dl.addLayout(drow)

        # Inline recommendation (the psychiatric consultant).
        self.rec_box = RecommendationForm(detail)
        self.rec_box.save_button.clicked.connect(self.save_recommendation)
        f = self.rec_box  # its fields, by the names the pane has always given them
        self.kind, self.drug, self.dose, self.rec_text, self.rec_error = f.kind, f.drug, f.dose, f.text, f.error
        dl.addWidget(self.rec_box)
        self.rec_box.setVisible(self.ctx.can(Permission.RECORD_RECOMMENDATION))
        dl.addStretch(1)
        split.addWidget(detail)
        split.setSizes([560, 620])
        bl.addWidget(split)
        self.empty = QLabel("", body)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)
        bl.addWidget(self.empty)
        self.split = split
        outer.addWidget(body, 1)
        self.busy = BusyOverlay(body, "Loading the case review…")
        self._show_item()

    # ---- loading ----------------------------------------------------------------------------------
    def ensure_loaded(self) -> None:
        if self._stale and not self.loading:
            self.reload()

    def on_changes(self, event: ChangeEvent) -> None:
        """Reload now when showing, else on the next visit; contacts, time, referrals, care plans
        and billing leave it alone."""
        if event.has(*SHOWN) and not self.ctx.db.locked:
            self.mark_stale()

    def mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.reload()

    def reload(self) -> None:
        from cocm_desktop.services.case_review import (
            get_review_session,
            list_review_sessions,
            recommendations_for,
        )
        from cocm_desktop.services.common import users_by_role

        self._generation += 1
        generation = self._generation
        self.loading = True
        self._stale = False
        if self.review is None:
            self.busy.start()
        ctx, wanted, people = self.ctx, self.review_id, self.people
        f_cm, f_psych = self.filter_cm, self.filter_consultant
        today = date.today()

        def work():  # type: ignore[no-untyped-def]
            if people is None:
                with ctx.db.session() as s:
                    found = (users_by_role(s, Role.PSYCHIATRIST.value), users_by_role(s, Role.CARE_MANAGER.value))
            else:
                found = people
            sessions = ctx.read(list_review_sessions, care_manager_id=f_cm, consultant_id=f_psych)
            rid = wanted if any(s.id == wanted for s in sessions) else None
            if rid is None and sessions:
                upcoming = [s for s in sessions if s.session_on >= today]
                rid = (min(upcoming, key=lambda s: s.session_on) if upcoming else sessions[0]).id
            review = ctx.read(get_review_session, rid) if rid is not None else None
            recs: dict[int, list[Any]] = {}
            if review is not None:
                with ctx.db.session() as s:
                    for entry in (*review.agenda, *review.not_reached):
                        recs[entry.episode_id] = recommendations_for(s, entry.episode_id)
            return found, sessions, review, recs

        run_in_background(work, lambda r: self._loaded(generation, r), lambda e: self._failed(generation, e))

    def _loaded(self, generation: int, result: tuple[Any, Any, Any, Any]) -> None:
        if generation != self._generation:
            return
        self.loading = False
        self.busy.stop()
        selected = self.selected_entry()
        self.people, self.sessions, self.review, self.recs = result
        self.review_id = self.review.id if self.review else None
        for combo, everyone, (choices, current) in (
                (self.consultant_combo, "All consultants", (self.people[0], self.filter_consultant)),
                (self.cm_combo, "All care managers", (self.people[1], self.filter_cm))):
            combo.clear()
            combo.addItem(everyone, None)
            for uid, name in sorted(choices, key=lambda c: c[1].casefold()):
                combo.addItem(name, uid)
            combo.setCurrentIndex(max(0, combo.findData(current)))
        self.session_combo.clear()
        today = date.today()
        for sm in self.sessions:
            tag = "held" if sm.held else ("next" if sm.session_on >= today else "not marked held")
            whose = "" if self.filter_cm is not None else f" · {sm.care_manager or 'whole clinic'}"
            by = "" if self.filter_consultant is not None else f" · {sm.consultant}"
            self.session_combo.addItem(f"{fmt_long(sm.session_on)}{whose}{by}  ({tag})", sm.id)
        if self.review_id is not None:
            self.session_combo.setCurrentIndex(max(0, self.session_combo.findData(self.review_id)))
        self._fill(selected.id if selected is not None else None)
        self.loaded.emit()

    def clear_for_lock(self) -> None:
        self._generation += 1
        self.loading = False
        self.busy.stop()
        self.review = None
        self.recs = {}
        self.people = None
        self.model.set_rows([])
        self.session_combo.clear()
        self.consultant_combo.clear()
        self.cm_combo.clear()
        self.info.clear()
        self.discussion.clear()
        self.rec_box.clear()
        self._show_item()
        self._stale = True

    def _fill(self, keep_id: int | None = None) -> None:
        r = self.review
        if r is None:
            self.model.set_rows([])
            self.info.setText("")
            self.empty.setText("No case-review session here yet. Set one up with “New session…” (one per care "
                               "manager); the agenda builds itself, sized to the session.")
            self.empty.show()
            self.split.hide()
            self._show_item()
            return
        live = [e for e in r.agenda if not e.removed]
        self.empty.setText("No patients on this agenda yet. “Rebuild agenda” fills it from today's registry "
                           "(safety flags, new enrollments, not improving, medication questions, follow-ups); "
                           "“Add patient…” adds anyone else.")
        self.empty.setVisible(not live and not r.not_reached)
        self.split.setVisible(bool(live or r.not_reached))
        dropped = len(r.agenda) - len(live)
        discussed = sum(1 for e in live if e.reviewed)
        safety_waiting = sum(1 for e in r.not_reached if e.group == "safety")
        self.info.setText(f"{fmt_long(r.session_on)} · {r.care_manager or 'whole clinic'}'s caseload with "
                          f"{r.consultant} · {r.minutes} min, room for {r.capacity}"
                          + (f" · attendees {r.attendees}" if r.attendees else "")
                          + f" · {len(live)} on the agenda, {discussed} discussed"
                          + (f" · {len(r.not_reached)} not reached" if r.not_reached else "")
                          + (f" · {dropped} dropped" if dropped else "")
                          + (f" · {safety_waiting} with a safety flag not reached: lengthen the session"
                             if safety_waiting else ""))
        rows = grouped(live, list(r.not_reached))
        self.model.set_rows(rows)
        self.table.clearSpans()
        for n, row in enumerate(rows):
            if isinstance(row, GroupHeader):
                self.table.setSpan(n, 0, 1, len(self.model.columns))
        target = next((n for n, row in enumerate(rows) if not isinstance(row, GroupHeader)
                       and (keep_id is None or row.id == keep_id)), None)
        if target is not None:
            self.table.selectRow(target)
            self.table.setCurrentIndex(self.model.index(target, 0))
        self._show_item()

    # ---- selection ---------------------------------------------------------------------------------------
    def selected_entry(self) -> Any:
        index = self.table.currentIndex()
        row = index.data(RowRole) if index.isValid() else None
        return None if isinstance(row, GroupHeader) else row

    def select_episode(self, episode_id: int) -> bool:
        for n, row in enumerate(self.model.rows):
            if not isinstance(row, GroupHeader) and row.episode_id == episode_id:
                self.table.setCurrentIndex(self.model.index(n, 0))
                return True
        return False

    def _show_item(self) -> None:
        e = self.selected_entry()
        manage = self.ctx.can(Permission.MANAGE_CASE_REVIEW)
        has = e is not None
        for w in (self.chart_button, self.discussion, self.discussed_button, self.drop_button, self.rec_box):
            w.setEnabled(has)
        self.move_button.setVisible(has and bool(getattr(e, "not_reached", False)))
        self.move_button.setEnabled(manage)
        self.rec_box.setVisible(self.ctx.can(Permission.RECORD_RECOMMENDATION))
        if not has:
            self.item_title.setText("")
            self.item_body.setText("<p style='color:#627D98'>Select a patient on the agenda.</p>"
                                   if self.model.rows else "")
            return
        self.discussed_button.setEnabled(manage and not e.reviewed)
        self.drop_button.setEnabled(manage and not e.reviewed)
        self.item_title.setText(e.patient_name)
        row = next((r for r in self._registry_rows() if r.episode_id == e.episode_id), None)
        self.item_body.setText(entry_html(e, row, self.recs.get(e.episode_id, [])))

    def _open_chart(self) -> None:
        e = self.selected_entry()
        if e is not None:
            self.openChart.emit(e.patient_id)

    # ---- actions ---------------------------------------------------------------------------------------
    def _write(self, fn, *args: Any, patient_id: int | None = None, done: Any = None,  # type: ignore[no-untyped-def]
               **kwargs: Any) -> Operation:
        """An agenda change off the GUI thread (a refusal is shown over the pane); the pane reloads
        from its CASE_REVIEW event."""
        return self.ctx.write(fn, *args, changes=Change.CASE_REVIEW, patient_id=patient_id, done=done, parent=self,
                              **kwargs)

    def _filter_chosen(self) -> None:
        """Another consultant or care manager: their sessions, the next one shown."""
        cm, psych = self.cm_combo.currentData(), self.consultant_combo.currentData()
        if (cm, psych) != (self.filter_cm, self.filter_consultant):
            self.filter_cm, self.filter_consultant = cm, psych
            self.review_id = None
            self.reload()

    def choose(self, *, care_manager_id: int | None = None, consultant_id: int | None = None,
               review_id: int | None = None) -> None:
        """Show these sessions (and this one, when given): what the choosers do."""
        self.filter_cm, self.filter_consultant, self.review_id = care_manager_id, consultant_id, review_id
        self.reload()

    def _session_chosen(self, index: int) -> None:
        rid = self.session_combo.itemData(index)
        if rid is not None and rid != self.review_id:
            self.review_id = rid
            self.reload()

    def new_session(self) -> None:
        from cocm_desktop.domain.policy import policy_fields
        from cocm_desktop.services.case_review import create_review_session
        from cocm_desktop.services.common import users_by_role
        from cocm_desktop.services.policy import get_policy

        with self.ctx.db.session() as s:
            consultants = [(name, uid) for uid, name in users_by_role(s, Role.PSYCHIATRIST.value)]
            cms = [(name, uid) for uid, name in users_by_role(s, Role.CARE_MANAGER.value)]
        policy = self.ctx.read(get_policy)
        bounds = {f.name: f for f in policy_fields()}
        length, per = bounds["case_review_session_minutes"], bounds["case_review_minutes_per_patient"]
        mine = self.filter_cm or (self.ctx.actor.user_id if self.ctx.actor.role == Role.CARE_MANAGER.value else None)
        cms.sort(key=lambda c: c[1] != mine)  # the care manager shown (or signed in) first
        psych = self.filter_consultant
        consultants.sort(key=lambda c: c[1] != psych)
        dialog = FormDialog("New case-review session", [
            Field("session_on", "Date", "date", True),
            Field("care_manager_id", "Care manager (caseload)", "choice", True, choices=cms),
            Field("consultant_id", "Psychiatric consultant", "choice", True, choices=consultants),
            Field("minutes", "Session length (minutes)", "int", True, value=policy.case_review_session_minutes,
                  minimum=length.minimum, maximum=length.maximum),
            Field("minutes_per_patient", "Minutes per patient", "int", True,
                  value=policy.case_review_minutes_per_patient, minimum=per.minimum, maximum=per.maximum),
            Field("attendees", "Attendees"),
        ], self, intro="One session reviews one care manager's caseload. The agenda is built automatically and "
                       "sized to the session: safety flags first, patients not reached last time, new "
                       "enrollments, not improving, medication questions, then follow-ups; the rest is listed "
                       "as not reached and comes first next time.", ok_text="Set up",
            submit=lambda v: self.ctx.write(create_review_session, changes=Change.CASE_REVIEW, done=self._created,
                                            **v))
        dialog.exec()

    def _created(self, review: Any) -> None:
        """The new session is the one shown (its CASE_REVIEW event, right after, reloads the pane)."""
        self.review_id = review.id

    def rebuild(self) -> None:
        from cocm_desktop.services.case_review import rebuild_agenda

        if self.review_id is not None:
            self._write(rebuild_agenda, self.review_id)

    def add_patient(self) -> None:

        if self.review_id is None:
            return
        on = {e.episode_id for e in self.review.agenda if not e.removed} if self.review else set()
        rows = sorted((r for r in self._registry_rows() if r.episode_id not in on), key=lambda r: r.patient_name)
        if not rows:
            QMessageBox.information(self, "Case review", "Every open episode is already on this agenda.")
            return
        labels = [f"{r.patient_name} · {r.mrn}" for r in rows]
        choice, ok = QInputDialog.getItem(self, "Add to the agenda", "Patient:", labels, 0, False)
        if not ok:
            return
        row = rows[labels.index(choice)]
        reason, ok = QInputDialog.getText(self, "Add to the agenda", "Why (optional):")
        if ok:
            self.add_episode(row.episode_id, reason.strip() or None, row.patient_id)

    def add_episode(self, episode_id: int, reason: str | None = None, patient_id: int | None = None) -> Any:
        from cocm_desktop.services.case_review import add_to_agenda

        return self._write(add_to_agenda, self.review_id, episode_id, reason=reason, patient_id=patient_id)

    def move_selected_onto_agenda(self) -> Any:
        e = self.selected_entry()
        if e is None or not e.not_reached:
            return None
        return self.add_episode(e.episode_id, None, e.patient_id)

    def drop_selected(self) -> Any:
        from cocm_desktop.services.case_review import drop_from_agenda

        e = self.selected_entry()
        if e is not None:
            return self._write(drop_from_agenda, e.id, patient_id=e.patient_id)
        return None

    def mark_discussed(self) -> Any:
        from cocm_desktop.services.case_review import mark_discussed

        e = self.selected_entry()
        if e is None:
            return None
        # as the pane showed it: a discussion someone else saved meanwhile is named, not overwritten
        return self._write(mark_discussed, e.id, discussion=self.discussion.toPlainText().strip() or None,
                           expected_reviewed=e.reviewed, patient_id=e.patient_id,
                           done=lambda _r: self.discussion.clear())

    def save_recommendation(self) -> Any:
        e = self.selected_entry()
        if e is None:
            return None
        return self.rec_box.record(self.ctx, e)

    def print_packet(self) -> None:
        """Build the packet off the GUI thread, then the print preview (Print…, Save as PDF…; never a temp file)."""
        if not packet_available():
            return
        if self.review_id is None:
            QMessageBox.information(self, "Case review", "Set up a case-review session first.")
            return
        from cocm_desktop.reports.case_review_packet import build_case_review_packet
        from cocm_desktop.services.case_review_packet import packet_data

        ctx, rid = self.ctx, self.review_id
        on = self.review.session_on if self.review else date.today()
        self.print_button.setEnabled(False)
        self.busy.start("Building the case-review packet…")

        def work() -> bytes:
            return build_case_review_packet(ctx.read(packet_data, session_id=rid))

        def done(pdf: bytes) -> None:
            from cocm_desktop.gui.print_preview import show_pdf_preview

            self.busy.stop()
            self.print_button.setEnabled(True)
            show_pdf_preview(self, pdf, f"Case-review packet {on.isoformat()}")  # Print… / Save as PDF…

        def failed(exc: BaseException) -> None:
            self.busy.stop()
            self.print_button.setEnabled(True)
            show_error(self, exc)

        run_in_background(work, done, failed)
