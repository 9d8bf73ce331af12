"""The installer sources: the spec, the Windows setup script, the Linux desktop entry, the icon.

The bundle itself is built and self-checked by installer/ci_bundle.sh (too slow for pytest).
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cocm_desktop import APP_ID, __version__

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"
SPEC = INSTALLER / "cocm-desktop.spec"
ISS = INSTALLER / "cocm-desktop.iss"
DESKTOP = INSTALLER / "cocm-desktop.desktop"
ICON = ROOT / "resources" / "icons" / "cocm-desktop.svg"


def _load(name: str):  # type: ignore[no-untyped-def]
    """An installer/ script as a module (installer/ is not a package)."""
    sys.path.insert(0, str(INSTALLER))
    try:
        spec = importlib.util.spec_from_file_location(f"installer_{name}", INSTALLER / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(INSTALLER))


def _spec_strings() -> set[str]:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), str(SPEC))
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _spec_calls() -> dict[str, list[ast.Call]]:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), str(SPEC))
    calls: dict[str, list[ast.Call]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.setdefault(node.func.id, []).append(node)
    return calls


# ---- PyInstaller spec ----------------------------------------------------------------------------
def test_spec_is_python_and_takes_name_and_version_from_the_package() -> None:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), str(SPEC))
    imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert {("cocm_desktop", "APP_ID"), ("cocm_desktop", "APP_NAME"), ("cocm_desktop", "__version__")} <= imported
    assert __version__ not in _spec_strings()  # never hard-coded


def test_spec_ships_the_migrations_as_files() -> None:
    text = SPEC.read_text(encoding="utf-8")
    strings = _spec_strings()
    assert "cocm_desktop/store/migrations" in strings
    assert {"env.py", "versions", "*.py"} <= strings
    assert re.search(r'\(MIGRATIONS / "versions"\)\.glob\("\*\.py"\)', text)
    # every migration file that exists today is matched by that glob
    versions = sorted((ROOT / "cocm_desktop" / "store" / "migrations" / "versions").glob("*.py"))
    assert versions, "no migrations found"


def test_spec_hidden_imports_name_the_dialect_and_real_modules() -> None:
    strings = _spec_strings()
    engine_source = (ROOT / "cocm_desktop" / "store" / "engine.py").read_text(encoding="utf-8")
    # the dialect name the engine registers, and the module that registers it, are both bundled
    registered = re.search(r'registry\.register\("([\w.]+)", __name__', engine_source)
    assert registered and registered.group(1) == "sqlite.cocm_sqlcipher"
    required = {
        "cocm_desktop.store.engine", "sqlalchemy.dialects.sqlite.pysqlcipher", "sqlcipher3",
        "argon2.low_level", "_cffi_backend", "PySide6.QtSvg",
    }
    assert required <= strings
    for name in required:  # a typo would silently bundle nothing
        assert importlib.util.find_spec(name) is not None, name


def test_spec_collects_dynamic_packages() -> None:
    collected = {call.args[0].value for call in _spec_calls()["collect_submodules"]
                 if call.args and isinstance(call.args[0], ast.Constant)}
    assert {"cocm_desktop", "cocm_desktop.commands", "alembic", "reportlab.pdfbase", "platformdirs"} <= collected
    data = {call.args[0].value for call in _spec_calls()["collect_data_files"]
            if call.args and isinstance(call.args[0], ast.Constant)}
    assert "reportlab" in data
    assert {"resources", "ui"} <= _spec_strings()


def test_spec_is_one_folder_without_upx() -> None:
    calls = _spec_calls()
    assert "COLLECT" in calls
    exe_kwargs = {kw.arg: kw.value for kw in calls["EXE"][0].keywords}
    assert isinstance(exe_kwargs["exclude_binaries"], ast.Constant) and exe_kwargs["exclude_binaries"].value is True
    assert exe_kwargs["upx"].value is False  # type: ignore[attr-defined]
    assert "onefile" not in SPEC.read_text(encoding="utf-8").replace("one-file", "")


def test_spec_requires_the_qt_plugins() -> None:
    strings = _spec_strings()
    assert {"platforms", "qoffscreen", "qxcb", "qwindows", "imageformats", "qsvg", "iconengines",
            "qsvgicon", "styles"} <= strings


# ---- Windows setup script ----------------------------------------------------------------------
def test_iss_has_version_placeholder_and_no_fixed_version() -> None:
    text = ISS.read_text(encoding="utf-8")
    assert '#define AppVersion "@APP_VERSION@"' in text
    assert "AppVersion={#AppVersion}" in text
    assert re.search(r"\b\d+\.\d+\.\d+\b", text.replace("Inno Setup 6", "")) is None


def test_iss_has_shortcuts_uninstaller_and_keeps_data() -> None:
    text = ISS.read_text(encoding="utf-8")
    sections = re.findall(r"^\[(\w+)\]", text, flags=re.MULTILINE)
    assert {"Setup", "Tasks", "Files", "Icons", "UninstallDelete", "Code"} <= set(sections)
    assert "Uninstallable=yes" in text
    assert re.search(r'^Name: "\{autoprograms\}\\\{#AppName\}"', text, flags=re.MULTILINE)  # Start menu
    assert re.search(r'^Name: "\{autodesktop\}.*Tasks: desktopicon', text, flags=re.MULTILINE)
    assert re.search(r'^Name: "desktopicon".*Flags: unchecked', text, flags=re.MULTILINE)
    uninstall_delete = text.split("\n[UninstallDelete]\n")[1].split("\n[Code]\n")[0]
    assert "localappdata" not in uninstall_delete.lower()  # the data folder is never deleted silently
    code = text.split("\n[Code]\n")[1]
    assert "CurUninstallStepChanged" in code
    assert "UninstallSilent" in code and "MB_DEFBUTTON2" in code  # asks, default No; silent keeps it
    assert "DelTree" in code
    assert "--self-check" in code  # the installed copy is checked


def test_build_fills_every_placeholder() -> None:
    build = _load("build")
    values = {"APP_VERSION": __version__, "APP_VERSION_NUMERIC": "0.1.0.0", "DIST_DIR": r"C:\b\dist\cocm-desktop",
              "OUTPUT_DIR": r"C:\b\dist", "ICON_FILE": r"C:\b\build\cocm-desktop.ico"}
    filled = build.fill_placeholders(ISS.read_text(encoding="utf-8"), values)
    assert f'#define AppVersion "{__version__}"' in filled
    assert "@" not in "".join(re.findall(r"@[A-Z_]+@", filled))
    with pytest.raises(SystemExit, match="@ICON_FILE@"):
        build.fill_placeholders(ISS.read_text(encoding="utf-8"), {k: v for k, v in values.items() if k != "ICON_FILE"})


@pytest.mark.parametrize(("version", "numeric"), [
    ("0.1.0", "0.1.0.0"), ("1.2", "1.2.0.0"), ("2.10.3rc1", "2.10.3.0"), ("1.0.0+clinic7", "1.0.0.0"),
    ("3", "3.0.0.0"),
])
def test_numeric_version_for_windows_resources(version: str, numeric: str) -> None:
    assert _load("buildinfo").numeric_version(version) == numeric


def test_ico_has_every_windows_size(tmp_path: Path) -> None:
    from PIL import Image

    ico = tmp_path / "app.ico"
    # In its own process, as build.py/the spec use it (it starts a QGuiApplication).
    result = subprocess.run([sys.executable, str(INSTALLER / "make_icon.py"), str(ICON), str(ico)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    with Image.open(ico) as image:
        assert set(image.info["sizes"]) == {(s, s) for s in (16, 20, 24, 32, 40, 48, 64, 256)}
        image.size = (16, 16)
        image.load()
        assert image.getpixel((8, 8))[3] == 255  # the mark fills the middle even at 16 px


# ---- Linux --------------------------------------------------------------------------------------
def test_desktop_entry_starts_the_app_with_its_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(DESKTOP, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Name"] == "CoCM Desktop"
    assert section["Exec"] == APP_ID  # the CLI takes no file arguments
    assert section["Icon"] == ICON.stem == APP_ID
    assert section["Terminal"] == "false"
    assert section["Categories"].endswith(";")


def test_app_icon_is_a_square_svg_qt_can_draw() -> None:
    root = ET.parse(ICON).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"
    from PySide6.QtSvg import QSvgRenderer

    assert QSvgRenderer(str(ICON)).isValid()


@pytest.mark.parametrize(("shell", "script"), [("bash", "ci_bundle.sh"), ("sh", "install-linux.sh")])
def test_shell_scripts_parse(shell: str, script: str) -> None:
    result = subprocess.run([shell, "-n", str(INSTALLER / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
