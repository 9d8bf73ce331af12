"""Registry model without windows (Vorta style): roles, sorting keys, filters (the model filters
and sorts itself; the table has no model)."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import Qt

from cocm_desktop.domain.flags import Flag
from cocm_desktop.gui.registry_model import (
    COLUMN_INDEX,
    IdRole,
    RegistryModel,
    RegistryProxy,
    RowRole,
    SortRole,
    fmt_date,
)
from cocm_desktop.services.registry import build_registry
from cocm_desktop.store.database import Database

TODAY = date(2026, 11, 24)


@pytest.fixture
def rows(demo_path):  # type: ignore[no-untyped-def]
    with Database.open(demo_path, "cm1", "demo") as db, db.session() as s:
        return build_registry(s, db.actor, today=TODAY)


@pytest.fixture
def model(qapp, rows):  # type: ignore[no-untyped-def]
    """What the registry table shows: the filter proxy over the sorting source model."""
    proxy = RegistryProxy(source=RegistryModel(today=TODAY))
    proxy.set_rows(rows, TODAY)
    return proxy


def _ids(p: RegistryModel) -> list[int]:
    return [p.index(r, 0).data(IdRole) for r in range(p.rowCount())]


def test_model_exposes_every_row_with_id_and_row_roles(model, rows) -> None:  # type: ignore[no-untyped-def]
    assert model.rowCount() == model.total() == len(rows) > 0
    first = model.index(0, COLUMN_INDEX["patient"])
    assert first.data(IdRole) == rows[0].patient_id
    assert first.data(RowRole) is rows[0]
    assert first.data(Qt.ItemDataRole.DisplayRole) == rows[0].patient_name
    assert rows[0].mrn in first.data(Qt.ItemDataRole.ToolTipRole)


def test_flag_column_tooltip_gives_each_reason(model, rows) -> None:  # type: ignore[no-untyped-def]
    n = next(i for i, r in enumerate(rows) if r.flags)
    tip = model.index(n, COLUMN_INDEX["flags"]).data(Qt.ItemDataRole.ToolTipRole)
    for hit in rows[n].flags:
        assert f"{hit.flag.label}: {hit.reason}" in tip


def test_sort_by_flags_puts_safety_first(model, rows) -> None:  # type: ignore[no-untyped-def]
    assert any(r.has(Flag.SAFETY) for r in rows), "the demo clinic has a safety case"
    model.sort(COLUMN_INDEX["flags"], Qt.SortOrder.DescendingOrder)
    top = model.index(0, 0).data(RowRole)
    assert top.has(Flag.SAFETY)
    safety_count = sum(1 for r in rows if r.has(Flag.SAFETY))
    for n in range(model.rowCount()):
        assert model.index(n, 0).data(RowRole).has(Flag.SAFETY) == (n < safety_count)


def test_sort_by_weeks_and_name_use_sort_role(model) -> None:  # type: ignore[no-untyped-def]
    model.sort(COLUMN_INDEX["weeks"], Qt.SortOrder.AscendingOrder)
    weeks = [model.index(n, COLUMN_INDEX["weeks"]).data(SortRole) for n in range(model.rowCount())]
    assert weeks == sorted(weeks)
    model.sort(COLUMN_INDEX["patient"], Qt.SortOrder.AscendingOrder)
    names = [model.index(n, 0).data(RowRole).patient_name.casefold() for n in range(model.rowCount())]
    assert names == sorted(names)


def test_next_action_sorts_missing_dates_last(model) -> None:  # type: ignore[no-untyped-def]
    model.sort(COLUMN_INDEX["next_action"], Qt.SortOrder.AscendingOrder)
    dates = [model.index(n, 0).data(RowRole).next_action_on for n in range(model.rowCount())]
    present = [d for d in dates if d is not None]
    assert present == sorted(present)
    assert dates[: len(present)] == present


def test_filters_combine_without_requerying(model, rows) -> None:  # type: ignore[no-untyped-def]
    cm_id = rows[0].care_manager_id
    model.set_filter(care_manager_id=cm_id)
    assert set(_ids(model)) == {r.patient_id for r in rows if r.care_manager_id == cm_id}
    model.set_filter(flagged_only=True)
    assert set(_ids(model)) == {r.patient_id for r in rows if r.care_manager_id == cm_id and r.flags}
    model.set_filter(care_manager_id=None, flagged_only=False, flag=Flag.NOT_IMPROVING)
    assert set(_ids(model)) == {r.patient_id for r in rows if r.has(Flag.NOT_IMPROVING)}
    model.set_filter(flag=None, statuses=frozenset({"relapse_prevention"}))
    assert set(_ids(model)) == {r.patient_id for r in rows if r.status == "relapse_prevention"}
    model.set_filter(statuses=None)
    assert model.rowCount() == len(rows)


@pytest.mark.parametrize("field", ["name", "mrn"])
def test_text_search_matches_name_or_mrn_case_insensitively(model, rows, field) -> None:  # type: ignore[no-untyped-def]
    target = rows[len(rows) // 2]
    query = target.patient_name.split(",")[0].upper() if field == "name" else target.mrn.lower()
    model.set_filter(text=f"  {query} ")
    found = _ids(model)
    assert target.patient_id in found
    for pid in found:
        row = next(r for r in rows if r.patient_id == pid)
        assert query.strip().casefold() in f"{row.patient_name}\n{row.mrn}".casefold()
    model.set_filter(text="zzzz-no-such-patient")
    assert model.rowCount() == 0


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 11, 3), "Nov 3"),
    (date(2025, 12, 31), "Dec 31, 2025"),
    (None, "\u2014"),
])
def test_fmt_date(day, expected) -> None:  # type: ignore[no-untyped-def]
    assert fmt_date(day, TODAY) == expected


def test_sort_is_stable_both_ways_and_follows_the_service_order_on_ties(model, rows) -> None:  # type: ignore[no-untyped-def]
    col = COLUMN_INDEX["program"]
    service_pos = {r.patient_id: n for n, r in enumerate(rows)}
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        model.sort(col, order)
        shown = [model.index(n, 0).data(RowRole) for n in range(model.rowCount())]
        keys = [r.program for r in shown]
        assert keys == sorted(keys, reverse=order == Qt.SortOrder.DescendingOrder)
        for a, b in zip(shown, shown[1:], strict=False):
            if a.program == b.program:
                assert service_pos[a.patient_id] < service_pos[b.patient_id]


def test_filter_keeps_the_sort_and_sort_keeps_the_filter(model, rows) -> None:  # type: ignore[no-untyped-def]
    model.sort(COLUMN_INDEX["weeks"], Qt.SortOrder.DescendingOrder)
    model.set_filter(flagged_only=True)
    weeks = [model.index(n, 0).data(RowRole).weeks for n in range(model.rowCount())]
    assert weeks == sorted(weeks, reverse=True)
    assert model.rowCount() == sum(1 for r in rows if r.flags) < len(rows)
    model.sort(COLUMN_INDEX["patient"], Qt.SortOrder.AscendingOrder)
    shown = [model.index(n, 0).data(RowRole) for n in range(model.rowCount())]
    assert all(r.flags for r in shown) and len(shown) == sum(1 for r in rows if r.flags)
    names = [r.patient_name.casefold() for r in shown]
    assert names == sorted(names)


def test_selection_follows_its_patient_through_filter_and_sort(model, rows) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QItemSelectionModel

    selection = QItemSelectionModel(model)
    flagged = [r for r in rows if r.flags]
    target = flagged[len(flagged) // 2]
    flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    selection.setCurrentIndex(model.index_for_patient(target.patient_id), flags)
    model.set_filter(flagged_only=True)
    assert selection.currentIndex().data(IdRole) == target.patient_id
    model.sort(COLUMN_INDEX["patient"], Qt.SortOrder.DescendingOrder)
    assert selection.currentIndex().data(IdRole) == target.patient_id
    assert [i.data(IdRole) for i in selection.selectedRows()] == [target.patient_id]
    model.set_filter(text="zzzz-no-such-patient")  # filtered out: nothing current any more
    assert not selection.currentIndex().isValid()
    assert not model.index_for_patient(target.patient_id).isValid()
    assert model.row_for_patient(target.patient_id) is not None  # still in the rows


def test_painted_cells_show_what_data_returns(qapp, model) -> None:  # type: ignore[no-untyped-def]
    """The view paints from multiData (one call per cell); it must agree with data()."""
    from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

    delegate = QStyledItemDelegate()
    for n in range(min(model.rowCount(), 25)):
        for c in range(model.columnCount()):
            index = model.index(n, c)
            option = QStyleOptionViewItem()
            delegate.initStyleOption(option, index)  # asks multiData for every role it paints
            assert option.text == index.data(Qt.ItemDataRole.DisplayRole)
            fg = index.data(Qt.ItemDataRole.ForegroundRole)
            if fg is not None:
                assert option.palette.color(option.palette.ColorRole.Text) == fg


@pytest.mark.parametrize("width", [420, 150])
def test_flag_chips_paint_each_flag_in_its_colour_and_count_the_rest(qapp, model, rows, width) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QColor, QFontMetrics
    from PySide6.QtWidgets import QTableView

    from cocm_desktop.gui.registry_delegates import (
        CHIP_H,
        CHIP_PAD,
        FlagChipsDelegate,
        _chip_font,
        chip_layout,
    )

    model.set_rows(sorted(rows, key=lambda r: -len(r.flags))[:4], TODAY)  # the most flags
    assert len(model.index(0, 0).data(RowRole).flags) >= 3, "the demo clinic has a patient with 3+ flags"
    view = QTableView()
    view.setModel(model)
    col = COLUMN_INDEX["flags"]
    view.setItemDelegateForColumn(col, FlagChipsDelegate(view))
    view.verticalHeader().setDefaultSectionSize(34)
    view.setColumnWidth(col, width)
    view.resize(1200, 400)
    view.show()
    qapp.processEvents()
    image = view.viewport().grab().toImage()
    hidden_seen = 0
    for n in range(4):
        rect = view.visualRect(model.index(n, col))
        hits = model.index(n, 0).data(RowRole).flags
        fm = QFontMetrics(_chip_font(view.font()))
        placed, hidden = chip_layout(hits, rect, fm)
        assert placed or hidden
        for chip, hit in placed:  # inside the left cap, clear of the text
            assert QColor(image.pixel(chip.left() + 3, chip.center().y())) == QColor(hit.flag.colour)
        if hidden:
            hidden_seen += 1
            x = placed[-1][0].right() + 5 if placed else rect.left() + 4
            assert x + fm.horizontalAdvance(f"+{hidden}") + 2 * CHIP_PAD <= rect.right()
            y = rect.top() + (rect.height() - CHIP_H) // 2 + CHIP_H // 2
            assert QColor(image.pixel(x + 4, y)) == QColor("#F0F4F8")
    assert (hidden_seen > 0) == (width < 200)
    view.close()


def test_a_filter_change_that_shows_the_same_rows_leaves_the_view_alone(model, rows) -> None:  # type: ignore[no-untyped-def]
    changes: list[int] = []  # one entry per filter change the view had to follow
    model.rowsRemoved.connect(lambda *_: changes.append(model.rowCount()))
    model.rowsInserted.connect(lambda *_: changes.append(model.rowCount()))
    model.layoutChanged.connect(lambda *_: changes.append(model.rowCount()))
    target = rows[len(rows) // 2]
    model.set_filter(text=target.mrn)
    assert changes and changes[-1] == 1 and _ids(model) == [target.patient_id]
    seen = len(changes)
    model.set_filter(text=target.mrn[1:])  # other text, the same patient: nothing to redo
    assert len(changes) == seen and _ids(model) == [target.patient_id]
    model.set_filter(text=target.mrn + "zz")
    assert len(changes) > seen and model.rowCount() == 0
