"""Regenerate cocm_desktop/gui/forms/ui_*.py from ui/*.ui with pyside6-uic.

    .venv/bin/python -m cocm_desktop.gui.build_forms          # regenerate every form
    .venv/bin/python -m cocm_desktop.gui.build_forms --check  # exit 1 when a form is stale

The generated files are committed (Picard's habit): a frozen app and a fresh checkout run
without the Qt tools. tests/gui/test_forms.py fails when a form is stale.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
UI_DIR = PACKAGE.parent / "ui"
FORMS_DIR = Path(__file__).resolve().parent / "forms"


def uic_command() -> list[str]:
    exe = Path(sys.executable).with_name("pyside6-uic")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pyside6-uic")
    if found:
        return [found]
    return [sys.executable, "-m", "PySide6.scripts.pyside_tool", "uic"]


def form_path(ui_file: Path) -> Path:
    return FORMS_DIR / f"ui_{ui_file.stem}.py"


def compile_ui(ui_file: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "form.py"
        subprocess.run([*uic_command(), str(ui_file), "-o", str(out)], check=True)
        return out.read_text(encoding="utf-8")


def strip_header(text: str) -> str:
    """Drop the uic banner (it names the Qt version) so comparisons see only the code."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


def ui_files() -> list[Path]:
    return sorted(UI_DIR.glob("*.ui"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale forms")
    args = parser.parse_args(argv)
    stale = []
    for ui in ui_files():
        generated = compile_ui(ui)
        target = form_path(ui)
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if strip_header(current) == strip_header(generated):
            continue
        stale.append(target.name)
        if not args.check:
            target.write_text(generated, encoding="utf-8")
            print(f"wrote {target.relative_to(PACKAGE.parent)}")
    if args.check and stale:
        print("stale forms: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
