"""The case-review agenda as a list: the live entries grouped under one `GroupHeader` per agenda
group in the spec's order, the table model and view that show them, and how an entry reads (why
it is on the agenda; the detail shown beside the list)."""

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


def why(e: Any) -> str:
    """Why entry `e` is on the agenda: its group, the other reasons, and whether it was added by hand."""
    extra = [r for r in e.reasons if r != e.group_label]
    text = e.group_label + (f" · also {', '.join(extra).lower()}" if extra else "")
    return text + (" · added by hand" if e.added_manually else "")


def agenda_model(parent: QWidget) -> RecordTableModel:
    return RecordTableModel([
        Col("#", lambda e: f"{e.label} ({e.count})" if isinstance(e, GroupHeader) else str(e.position), width=36,
            bold=lambda e: isinstance(e, GroupHeader), background=lambda e: "#EEF2F6" if isinstance(e, GroupHeader) else None,
            color=lambda e: "#334E68" if isinstance(e, GroupHeader) else "#829AB1"),
        Col("Patient", lambda e: f"{e.label} ({e.count})" if isinstance(e, GroupHeader) else e.patient_name, width=190),
        Col("Why", lambda e: "" if isinstance(e, GroupHeader) else why(e), width=240,
            tip=lambda e: None if isinstance(e, GroupHeader) else ", ".join(e.reasons)),
        Col("Status", lambda e: "" if isinstance(e, GroupHeader) else ("Discussed" if e.reviewed else "To discuss"),
            color=lambda e: None if isinstance(e, GroupHeader) else ("#2E7D32" if e.reviewed else "#486581")),
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


def grouped(live: list[Any]) -> list[Any]:
    """The rows of the list: each agenda group that has entries, as a header then its entries."""
    rows: list[Any] = []
    for group in AgendaGroup:
        entries = [e for e in live if e.group == group.value]
        if entries:
            rows.append(GroupHeader(group.label, len(entries)))
            rows.extend(entries)
    return rows


def entry_html(e: Any, row: Any, recs: list[Any]) -> str:
    """The detail of entry `e`: why it is on the agenda, the registry's scores, contact, flags and
    team (`row`, when the registry lists the episode), its latest recommendations, the discussion."""
    parts = [f"<p><b>{E(e.group_label)}</b>" + (f" — also {E(', '.join(r for r in e.reasons if r != e.group_label))}"
                                                if len(e.reasons) > 1 else "") + "</p>"]
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
