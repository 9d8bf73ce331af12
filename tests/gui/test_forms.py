"""Generated forms are committed; each must match what pyside6-uic makes from its .ui today."""

from __future__ import annotations

import pytest

from cocm_desktop.gui import build_forms

UI_FILES = build_forms.ui_files()


def test_every_ui_file_has_a_form() -> None:
    assert UI_FILES, "no .ui files found"
    missing = [ui.name for ui in UI_FILES if not build_forms.form_path(ui).exists()]
    assert not missing, f"run `python -m cocm_desktop.gui.build_forms`; missing forms for {missing}"


@pytest.mark.parametrize("ui", UI_FILES, ids=lambda p: p.name)
def test_form_is_current(ui) -> None:  # type: ignore[no-untyped-def]
    form = build_forms.form_path(ui)
    assert form.exists()
    generated = build_forms.strip_header(build_forms.compile_ui(ui))
    committed = build_forms.strip_header(form.read_text(encoding="utf-8"))
    assert committed == generated, (
        f"{form.name} differs from {ui.name}; regenerate with `python -m cocm_desktop.gui.build_forms`")
