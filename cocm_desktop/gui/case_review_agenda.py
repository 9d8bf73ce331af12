"""The case-review agenda as a list: the live entries in agenda order under headers (safety flags,
carried over from the last session, then one per agenda group in the spec's order), then the
patients not reached; the table model and view that show them, and how an entry reads (why it is
on the agenda; the detail shown beside the list)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from cocm_desktop.domain.case_review import AgendaGroup
from cocm_desktop.gui.registry_model import fmt_date, score_pair
from cocm_desktop.gui.table_model import Col, RecordTableModel

E = html.escape


@dataclass(frozen=True)
class GroupHeader:
    label: str
    count: int
    id: None = None


NOT_REACHED = "Not reached — carried first to the next session"


def why(e: Any) -> str:
    """Why entry `e` is on the agenda: its group, the other reasons, whether it was added by hand or
    carried over."""
    extra = [r for r in e.reasons if r != e.group_label]
    text = e.group_label + (f" · also {', '.join(extra).lower()}" if extra else "")
    if getattr(e, "carried_from", None) is not None:
        text += f" · not reached {fmt_date(e.carried_from)}"
    return text + (" · added by hand" if e.added_manually else "")


def _status(e: Any) -> str:
    if getattr(e, "not_reached", False):
        return "Not reached"
    return "Discussed" if e.reviewed else "To discuss"


def agenda_model(parent: QWidget) -> RecordTableModel:
    return RecordTableModel([
        Col("#", lambda e: f"{e.label} ({e.count})" if isinstance(e, GroupHeader) else str(e.position), width=36,
            bold=lambda e: isinstance(e, GroupHeader), background=lambda e: "#EEF2F6" if isinstance(e, GroupHeader) else None,
            color=lambda e: "#334E68" if isinstance(e, GroupHeader) else "#829AB1"),
        Col("Patient", lambda e: f"{e.label} ({e.count})" if isinstance(e, GroupHeader) else e.patient_name, width=190),
        Col("Why", lambda e: "" if isinstance(e, GroupHeader) else why(e), width=240,
            tip=lambda e: None if isinstance(e, GroupHeader) else ", ".join(e.reasons)),
        Col("Status", lambda e: "" if isinstance(e, GroupHeader) else _status(e),
            color=lambda e: None if isinstance(e, GroupHeader) else (
                "#2E7D32" if e.reviewed else "#9AA5B1" if getattr(e, "not_reached", False) else "#486581")),
    ], parent)


def agenda_table(parent: QWidget, model: RecordTableModel) -> QTableView:
    table = QTableView(parent)
    table.setObjectName("agendaTable")
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setShowGrid(False)
    table.setProperty("dense", True)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(30)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    for n, col in enumerate(model.columns):
        if col.width:
            table.setColumnWidth(n, col.width)
    return table


def grouped(live: list[Any], not_reached: list[Any] | None = None) -> list[Any]:
    """The rows of the list, in agenda order: safety flags, the patients carried over from the last
    session, each other agenda group — a header, then its entries — and last the not-reached list."""
    rank = {g.value: n for n, g in enumerate(AgendaGroup)}

    def section(e: Any) -> tuple[int, int, str]:
        carried = getattr(e, "carried_from", None)
        if e.group == AgendaGroup.SAFETY.value or carried is None:
            return (0 if e.group == AgendaGroup.SAFETY.value else 2, rank.get(e.group, 99), e.group_label)
        return (1, 0, f"Carried over from {fmt_date(carried)}")

    rows: list[Any] = []
    sections: dict[tuple[int, int, str], list[Any]] = {}
    for e in sorted(live, key=lambda e: (section(e)[:2], e.position)):
        sections.setdefault(section(e), []).append(e)
    for (_a, _b, label), entries in sections.items():
        rows.append(GroupHeader(label, len(entries)))
        rows.extend(entries)
    if not_reached:
        rows.append(GroupHeader(NOT_REACHED, len(not_reached)))
        rows.extend(not_reached)
    return rows


def entry_html(e: Any, row: Any, recs: list[Any]) -> str:
    """The detail of entry `e`: why it is on the agenda, the registry's scores, contact, flags and
    team (`row`, when the registry lists the episode), its latest recommendations, the discussion."""
    parts = [f"<p><b>{E(e.group_label)}</b>" + (f" — also {E(', '.join(r for r in e.reasons if r != e.group_label))}"
                                                if len(e.reasons) > 1 else "") + "</p>"]
    if getattr(e, "not_reached", False):
        parts.append("<p style='color:#9A6700'>Not reached in this session: no time left in it. This patient "
                     "comes first (after safety flags) at the care manager's next session, or put them on "
                     "this agenda now.</p>")
    elif getattr(e, "carried_from", None) is not None:
        parts.append(f"<p style='color:#627D98'>Not reached at the session of {fmt_date(e.carried_from)}; "
                     "carried over.</p>")
    if row is not None:
        flags = ", ".join(h.flag.label for h in row.flags) or "none"
        phq9 = score_pair(row.phq9_baseline, row.phq9_last)
        if row.phq9_change is not None:
            phq9 += f" ({row.phq9_change_text})"
        parts.append(f"<p>Week {row.weeks} · primary scale {E(row.primary_scale)} · PHQ-9 {E(phq9)} · GAD-7 "
                     f"{E(score_pair(row.gad7_baseline, row.gad7_last))} · last contact "
                     f"{fmt_date(row.last_contact_on)} · flags: {E(flags)}</p>"
                     f"<p style='color:#627D98'>Care manager {E(row.care_manager)} · clinician {E(row.clinician)}</p>")
    if recs:
        items = "".join(f"<li>{fmt_date(r.recommended_at.date())} · {E(r.kind_label)}: "
                        f"{E(' '.join(x for x in (r.drug, r.dose) if x))} {E(r.text)} — <i>{E(r.state_label)}</i></li>"
                        for r in recs[:6])
        parts.append(f"<p><b>Recommendations</b></p><ul>{items}</ul>")
    if e.discussion:
        parts.append(f"<p><b>Discussion:</b> {E(e.discussion)}</p>")
    return "".join(parts)
