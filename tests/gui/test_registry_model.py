"""Registry model and proxy without windows (Vorta style): roles, sorting keys, filters."""

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
def proxy(qapp, rows):  # type: ignore[no-untyped-def]
    model = RegistryModel(today=TODAY)
    model.set_rows(rows, TODAY)
    p = RegistryProxy()
    p.setSourceModel(model)
    return p


def _ids(p: RegistryProxy) -> list[int]:
    return [p.index(r, 0).data(IdRole) for r in range(p.rowCount())]


def test_model_exposes_every_row_with_id_and_row_roles(proxy, rows) -> None:  # type: ignore[no-untyped-def]
    model = proxy.sourceModel()
    assert model.rowCount() == len(rows) > 0
    first = model.index(0, COLUMN_INDEX["patient"])
    assert first.data(IdRole) == rows[0].patient_id
    assert first.data(RowRole) is rows[0]
    assert first.data(Qt.ItemDataRole.DisplayRole) == rows[0].patient_name
    assert rows[0].mrn in first.data(Qt.ItemDataRole.ToolTipRole)


def test_flag_column_tooltip_gives_each_reason(proxy, rows) -> None:  # type: ignore[no-untyped-def]
    model = proxy.sourceModel()
    n = next(i for i, r in enumerate(rows) if r.flags)
    tip = model.index(n, COLUMN_INDEX["flags"]).data(Qt.ItemDataRole.ToolTipRole)
    for hit in rows[n].flags:
        assert f"{hit.flag.label}: {hit.reason}" in tip


def test_sort_by_flags_puts_safety_first(proxy, rows) -> None:  # type: ignore[no-untyped-def]
    assert any(r.has(Flag.SAFETY) for r in rows), "the demo clinic has a safety case"
    proxy.sort(COLUMN_INDEX["flags"], Qt.SortOrder.DescendingOrder)
    top = proxy.index(0, 0).data(RowRole)
    assert top.has(Flag.SAFETY)
    safety_count = sum(1 for r in rows if r.has(Flag.SAFETY))
    for n in range(proxy.rowCount()):
        assert proxy.index(n, 0).data(RowRole).has(Flag.SAFETY) == (n < safety_count)


def test_sort_by_weeks_and_name_use_sort_role(proxy) -> None:  # type: ignore[no-untyped-def]
    proxy.sort(COLUMN_INDEX["weeks"], Qt.SortOrder.AscendingOrder)
    weeks = [proxy.index(n, COLUMN_INDEX["weeks"]).data(SortRole) for n in range(proxy.rowCount())]
    assert weeks == sorted(weeks)
    proxy.sort(COLUMN_INDEX["patient"], Qt.SortOrder.AscendingOrder)
    names = [proxy.index(n, 0).data(RowRole).patient_name.casefold() for n in range(proxy.rowCount())]
    assert names == sorted(names)


def test_next_action_sorts_missing_dates_last(proxy) -> None:  # type: ignore[no-untyped-def]
    proxy.sort(COLUMN_INDEX["next_action"], Qt.SortOrder.AscendingOrder)
    dates = [proxy.index(n, 0).data(RowRole).next_action_on for n in range(proxy.rowCount())]
    present = [d for d in dates if d is not None]
    assert present == sorted(present)
    assert dates[: len(present)] == present


def test_filters_combine_without_requerying(proxy, rows) -> None:  # type: ignore[no-untyped-def]
    cm_id = rows[0].care_manager_id
    proxy.set_filter(care_manager_id=cm_id)
    assert set(_ids(proxy)) == {r.patient_id for r in rows if r.care_manager_id == cm_id}
    proxy.set_filter(flagged_only=True)
    assert set(_ids(proxy)) == {r.patient_id for r in rows if r.care_manager_id == cm_id and r.flags}
    proxy.set_filter(care_manager_id=None, flagged_only=False, flag=Flag.NOT_IMPROVING)
    assert set(_ids(proxy)) == {r.patient_id for r in rows if r.has(Flag.NOT_IMPROVING)}
    proxy.set_filter(flag=None, statuses=frozenset({"relapse_prevention"}))
    assert set(_ids(proxy)) == {r.patient_id for r in rows if r.status == "relapse_prevention"}
    proxy.set_filter(statuses=None)
    assert proxy.rowCount() == len(rows)


@pytest.mark.parametrize("field", ["name", "mrn"])
def test_text_search_matches_name_or_mrn_case_insensitively(proxy, rows, field) -> None:  # type: ignore[no-untyped-def]
    target = rows[len(rows) // 2]
    query = target.patient_name.split(",")[0].upper() if field == "name" else target.mrn.lower()
    proxy.set_filter(text=f"  {query} ")
    found = _ids(proxy)
    assert target.patient_id in found
    for pid in found:
        row = next(r for r in rows if r.patient_id == pid)
        assert query.strip().casefold() in f"{row.patient_name}\n{row.mrn}".casefold()
    proxy.set_filter(text="zzzz-no-such-patient")
    assert proxy.rowCount() == 0


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 11, 3), "Nov 3"),
    (date(2025, 12, 31), "Dec 31, 2025"),
    (None, "\u2014"),
])
def test_fmt_date(day, expected) -> None:  # type: ignore[no-untyped-def]
    assert fmt_date(day, TODAY) == expected
