"""Small builders and formatters the chart pane's modules share (labels, tables, pills, dates)."""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QScrollArea,
    QTableView,
    QWidget,
)

from cocm_desktop.gui.registry_model import RowRole
from cocm_desktop.gui.table_model import RecordTableModel, sorted_proxy

TOLD_LABELS = {"phone": "Phone", "video": "Video", "portal": "Patient portal", "in_person": "In person"}
E = html.escape


def short_datetime(d: datetime | None) -> str:
    return "\u2014" if d is None else f"{d:%b} {d.day}, {d.year} {d:%H:%M}"


def age_text(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def pill_label(text: str, kind: str = "true", tip: str = "") -> QLabel:
    label = QLabel(text)
    label.setProperty("pill", kind)
    if tip:
        label.setToolTip(tip)
    return label


def table_view(parent: QWidget, model: RecordTableModel, name: str) -> QTableView:
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(sorted_proxy(model, view))
    view.setSortingEnabled(True)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setProperty("dense", True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(28)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setHighlightSections(False)
    view.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    for n, col in enumerate(model.columns):
        if col.width:
            view.setColumnWidth(n, col.width)
    return view


def selected_item(view: QTableView) -> Any:
    index = view.currentIndex()
    return index.data(RowRole) if index.isValid() else None


def rich_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area
