"""A read-only table model over a list of plain dataclasses (measures, contacts, referrals, time…).

Same roles as the registry (`SortRole`, `IdRole`, `RowRole`), so every list sorts on real values
through a QSortFilterProxyModel and tests can read rows back without a window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QFont

from cocm_desktop.gui.registry_model import IdRole, RowRole, SortRole

ModelIndex = QModelIndex | QPersistentModelIndex
VOIDED_GREY = "#8A94A6"  # voided entries: struck through and greyed


@dataclass(frozen=True)
class Col:
    title: str
    text: Callable[[Any], str]
    sort: Callable[[Any], Any] | None = None
    tip: Callable[[Any], str | None] | None = None
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    color: Callable[[Any], str | None] | None = None
    width: int | None = None
    bold: Callable[[Any], bool] | None = None
    background: Callable[[Any], str | None] | None = None


class RecordTableModel(QAbstractTableModel):
    """`struck(row)`: the row is shown struck through and greyed (a voided entry); `row_tip(row)`:
    a tooltip for the whole row (its correction history), after the column's own."""

    def __init__(self, columns: Sequence[Col], parent: Any = None, id_of: Callable[[Any], Any] | None = None,
                 *, struck: Callable[[Any], bool] | None = None,
                 row_tip: Callable[[Any], str | None] | None = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[Any] = []
        self._id_of = id_of or (lambda r: getattr(r, "id", None))
        self.struck = struck
        self.row_tip = row_tip

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.columns):
            return self.columns[section].title
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        col = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row)
        if role == SortRole:
            return (col.sort or col.text)(row)
        if role == IdRole:
            return self._id_of(row)
        if role == RowRole:
            return row
        struck = self.struck is not None and self.struck(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            tips = [t for t in (col.tip(row) if col.tip else None, self.row_tip(row) if self.row_tip else None) if t]
            return "\n".join(tips) if tips else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(col.align)
        if role == Qt.ItemDataRole.FontRole and (struck or (col.bold is not None and col.bold(row))):
            font = QFont()
            if struck:
                font.setStrikeOut(True)
            else:
                font.setWeight(QFont.Weight.DemiBold)
            return font
        if role == Qt.ItemDataRole.BackgroundRole and col.background is not None:
            c = col.background(row)
            return QColor(c) if c else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if struck:
                return QColor(VOIDED_GREY)
            c = col.color(row) if col.color is not None else None
            return QColor(c) if c else None
        return None


def sorted_proxy(model: RecordTableModel, parent: Any = None) -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SortRole)
    return proxy
