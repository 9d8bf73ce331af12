"""The main window builds only the registry for its first paint; the chart and case-review panes
are built on first use and behave as before (lock, unlock, refresh, changes broadcast)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from cocm_desktop.gui.registry_model import COLUMN_INDEX, IdRole, RowRole
from cocm_desktop.services.changes import Change, ChangeEvent


def test_chart_and_case_review_are_built_on_first_use(open_window, demo_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    assert w._chart is None and w._case_review is None
    assert w.registry.model.rowCount() > 0

    # Lock and unlock, refresh and a data change with neither pane built: nothing breaks and
    # nothing gets built behind the user's back.
    w.lock()
    assert w.is_locked and w.registry.model.rowCount() == 0
    form = w.lock_screen.form
    form.password.setText("demo")
    qtbot.mouseClick(form.unlock, Qt.MouseButton.LeftButton)
    wait_idle()
    assert not w.is_locked and w.registry.model.rowCount() > 0
    w.refresh()
    w.ctx.publish(ChangeEvent(frozenset(Change), many=True))
    wait_idle()
    assert w._chart is None and w._case_review is None
    w.show_chart()  # no patient yet: stays on the registry
    assert w.ui.paneStack.currentWidget() is w.ui.registryPage and w._chart is None

    pid = w.registry.model.index(0, 0).data(IdRole)
    w.open_chart(pid)
    wait_idle()
    assert w._chart is not None and w.ui.paneStack.currentWidget() is w.ui.chartPage
    assert w.chart.chart is not None and w.chart.chart.patient.id == pid
    assert w.timer.patient_id() == pid  # the chart's patient became the timer's default

    w.show_case_review()
    wait_idle()
    assert w._case_review is not None and w.ui.paneStack.currentWidget() is w.ui.caseReviewPage
    assert w.case_review.review is not None  # loaded on first show

    w.lock()  # both panes built now: both cleared
    assert w.chart.chart is None and w.case_review.review is None


def test_header_clicks_sort_the_registry_and_keep_the_filter(open_window, demo_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    w.show_registry()  # sign-in opens on My work
    pane = w.registry
    table = pane.table
    # the default order: most urgent flags first
    assert table.horizontalHeader().sortIndicatorSection() == COLUMN_INDEX["flags"]
    first = pane.model.index(0, 0).data(RowRole)
    assert first.flags and any(h.flag.value == "safety" for h in first.flags)

    pane.status.setCurrentIndex(pane.status.findText("Active"))
    active = pane.model.rowCount()
    assert 0 < active < pane.model.total()
    header = table.horizontalHeader()
    col = COLUMN_INDEX["weeks"]
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    for expected in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))
        assert header.sortIndicatorSection() == col and header.sortIndicatorOrder() == expected
        shown = [pane.model.index(n, 0).data(RowRole) for n in range(pane.model.rowCount())]
        assert len(shown) == active and all(r.status == "active" for r in shown)
        weeks = [r.weeks for r in shown]
        assert weeks == sorted(weeks, reverse=expected == Qt.SortOrder.DescendingOrder)
