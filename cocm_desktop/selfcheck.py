"""`cocm-desktop --self-check`: prove this installation is whole, on this workstation.

Runs the real code paths (no shortcuts) against a throw-away encrypted clinic in a temporary
folder that is removed afterwards: SQLCipher present and actually encrypting, Argon2id key
slots, Alembic migrations loaded from their files, a row written and read back through a fresh
unlock, the audit chain, a PDF built in memory with reportlab, the clinic server's driver
(psycopg with its own libpq), every module of the package
importable, the headless commands registered, and Qt able to show and grab a widget and draw
the SVG app icon.

Prints one line per check ("ok  SQLCipher 4.6.1 community", ...) and returns 0; on the first
failure prints one plain line on stderr and returns 1. No patient data is involved anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cocm_desktop
from cocm_desktop import APP_ID, APP_NAME, __version__

EXIT_OK, EXIT_FAILED = 0, 1
APP_ICON = Path("resources") / "icons" / "cocm-desktop.svg"
STYLESHEET = Path("resources") / "style.qss"
_SKIP_MODULES = ("cocm_desktop.store.migrations", "cocm_desktop.__main__")


class CheckFailed(Exception):
    """A check found something wrong; the message is the plain explanation."""


def bundle_root() -> Path:
    """Folder holding `resources/` and `ui/`: the PyInstaller bundle, or the source checkout."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(cocm_desktop.__file__).resolve().parent.parent


def resource_path(relative: Path) -> Path:
    """`relative` (resources/...) among the program's own files: beside the package (the bundle,
    the source checkout) or, installed from a wheel, inside it (cocm_desktop/resources/...)."""
    root = bundle_root()
    installed = root / "cocm_desktop" / relative
    return installed if installed.exists() else root / relative


# ---- the checks -----------------------------------------------------------------------------
class _Clinic:
    """The throw-away clinic shared by the storage checks (created by the first one)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "selfcheck.db"
        self.password = secrets.token_urlsafe(18)
        self.marker = secrets.token_hex(8)
        self.db = None  # type: ignore[var-annotated]

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def _check_sqlcipher(clinic: _Clinic) -> str:
    from sqlalchemy import text

    from cocm_desktop.store.database import Database

    clinic.db, _code = Database.create(
        clinic.path, clinic_name="Self-check", lead_username="selfcheck",
        lead_display_name="Self-check", lead_password=clinic.password,
    )
    with clinic.db.engine.connect() as conn:
        version = conn.execute(text("PRAGMA cipher_version")).scalar()
        provider = conn.execute(text("PRAGMA cipher_provider")).scalar()
        provider_version = conn.execute(text("PRAGMA cipher_provider_version")).scalar()
    if not version:
        raise CheckFailed("the database library is plain SQLite, not SQLCipher: data would not be encrypted")
    if not str(version).startswith("4."):
        raise CheckFailed(f"SQLCipher {version} found; CoCM Desktop needs SQLCipher 4")
    detail = f"SQLCipher {version}"
    if provider:
        detail += f" (crypto: {provider} {provider_version or ''}".rstrip() + ")"
    return detail


def _check_encrypted_file(clinic: _Clinic) -> str:
    import sqlcipher3

    from cocm_desktop.store.engine import raw_connect
    from cocm_desktop.store.open_checks import SQLITE_PLAIN_HEADER

    with clinic.path.open("rb") as fh:
        header = fh.read(16)
    if header == SQLITE_PLAIN_HEADER or not header:
        raise CheckFailed("the test database was written as a plain, unencrypted SQLite file")
    # The same file must refuse a different key: encryption is enforced, not just present.
    try:
        conn = raw_connect(clinic.path, secrets.token_bytes(32))
    except sqlcipher3.dbapi2.DatabaseError:
        return "database file is encrypted (no plain SQLite header; a wrong key is refused)"
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.dbapi2.DatabaseError:
        return "database file is encrypted (no plain SQLite header; a wrong key is refused)"
    finally:
        conn.close()
    raise CheckFailed("the test database opened with a wrong key: it is not encrypted")


def _check_migrations(clinic: _Clinic) -> str:
    from cocm_desktop.store import migrate

    assert clinic.db is not None
    revisions = migrate.known_revisions()
    head = migrate.head_revision()
    with clinic.db.engine.connect() as conn:
        current = migrate.current_revision(conn)
    if current != head:
        raise CheckFailed(f"the new database is at schema {current!r}, expected {head!r}")
    return f"schema migrations applied: {len(revisions)} revision(s), at {head}"


def _check_round_trip(clinic: _Clinic) -> str:
    from sqlalchemy import select

    from cocm_desktop.store import audit
    from cocm_desktop.store.database import Database
    from cocm_desktop.store.models import ClinicSetting

    assert clinic.db is not None
    with clinic.db.session() as s:
        s.add(ClinicSetting(key="selfcheck_marker", value=clinic.marker))
    clinic.close()
    started = time.perf_counter()
    clinic.db = Database.open(clinic.path, "selfcheck", clinic.password)  # Argon2id + AES-GCM unwrap
    unlock = time.perf_counter() - started
    with clinic.db.session() as s:
        value = s.scalar(select(ClinicSetting.value).where(ClinicSetting.key == "selfcheck_marker"))
        chain = audit.verify_chain(s)
    if value != clinic.marker:
        raise CheckFailed("a row written to the test database did not read back the same")
    if not chain.ok:
        raise CheckFailed(chain.describe())
    return (f"row written, unlocked again with a password ({unlock:.1f} s) and read back; "
            f"audit chain of {chain.records} records verified")


def _check_pdf(_clinic: _Clinic) -> str:
    import io

    import reportlab
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    if "Vera" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))  # from reportlab's own fonts folder
    styles = getSampleStyleSheet()
    table = Table([["Check", "Result"], ["PHQ-9", "12 → 7"], ["GAD-7", "9 → 4"]])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                               ("FONTNAME", (0, 0), (-1, -1), "Vera")]))
    chart = Drawing(300, 120)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 30, 20, 250, 90
    plot.data = [[(0, 12), (4, 10), (8, 7), (12, 5)]]
    chart.add(plot)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=letter, title=f"{APP_NAME} self-check")
    doc.build([Paragraph(f"{APP_NAME} {__version__} self-check", styles["Title"]),
               Paragraph("Bold, <i>italic</i> and “quoted” text.", styles["BodyText"]), table, chart])
    pdf = buffer.getvalue()
    if not pdf.startswith(b"%PDF-") or not pdf.rstrip().endswith(b"%%EOF"):
        raise CheckFailed("reportlab did not produce a complete PDF")
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    if pages != 1:
        raise CheckFailed(f"the one-page test PDF came out with {pages} pages")
    return f"PDF built in memory (reportlab {reportlab.Version}, 1 page, {len(pdf):,} bytes)"


def _check_fonts(_clinic: _Clinic) -> str:
    """The reports' embedded font ships with the program (not borrowed from the system), and
    draws names in other scripts."""
    from cocm_desktop.reports import pdf_common

    folder = pdf_common.register_fonts().resolve()
    root = bundle_root().resolve()
    fonts = resource_path(Path("resources") / "fonts")
    if not folder.is_relative_to(fonts.resolve()):
        raise CheckFailed(f"the report fonts are missing from {fonts}")
    missing = [ch for ch in "ŁódźΣοφίαНгуễ" if pdf_common.printable(ch) != ch]
    if missing:
        raise CheckFailed("the report font cannot draw " + " ".join(missing))
    return f"report font DejaVu Sans from {folder.relative_to(root)} (Latin, Greek, Cyrillic, Vietnamese)"


def _check_password_list(_clinic: _Clinic) -> str:
    """New passwords are refused without the bundled list of common passwords: it must ship."""
    from cocm_desktop.services.passwords import PasswordListMissing, common_passwords

    try:
        words = common_passwords()
    except PasswordListMissing as exc:
        raise CheckFailed(str(exc)) from None
    if len(words) < 10_000 or "password" not in words:
        raise CheckFailed(f"the list of common passwords is cut short ({len(words)} entries)")
    return f"list of {len(words):,} common passwords refused for new passwords"


def _check_server_driver(_clinic: _Clinic) -> str:
    """psycopg with its own libpq (the binary build): a clinic PC has no PostgreSQL client installed."""
    import psycopg

    impl, libpq = psycopg.pq.__impl__, psycopg.pq.version()
    if impl == "python":
        raise CheckFailed("the clinic server driver has no libpq of its own (psycopg_binary is missing)")
    if libpq < 140000:  # verify-full against a certificate's IP addresses needs libpq 14
        raise CheckFailed(f"the clinic server driver's libpq {libpq // 10000} is too old (14 or newer needed)")
    return f"clinic server driver psycopg {psycopg.__version__} with libpq {libpq // 10000}.{libpq % 10000} ({impl})"


def _check_modules(_clinic: _Clinic) -> str:
    import importlib
    import pkgutil

    names = sorted(
        m.name for m in pkgutil.walk_packages(cocm_desktop.__path__, "cocm_desktop.")
        if not m.name.startswith(_SKIP_MODULES)
    )
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise CheckFailed(f"module {name} does not load: {type(exc).__name__}: {exc}") from exc
    from cocm_desktop.cli import build_parser

    commands = [name for action in build_parser()._actions
                if isinstance(action, argparse._SubParsersAction) for name in action.choices]
    return f"{len(names)} program modules load; {len(commands)} headless command(s) registered"


def _wants_offscreen() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return False
    if sys.platform.startswith(("win", "darwin")):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _check_qt(_clinic: _Clinic) -> str:
    from PySide6.QtCore import qInstallMessageHandler

    messages: list[str] = []  # Qt's own warnings: kept quiet, shown only if the check fails
    previous = qInstallMessageHandler(lambda _kind, _context, text: messages.append(text))
    try:
        return _show_widget()
    except CheckFailed as exc:
        if messages:
            raise CheckFailed(f"{exc} (Qt said: {messages[-1]})") from None
        raise
    finally:
        qInstallMessageHandler(previous)


def _show_widget() -> str:
    import PySide6
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QIcon, QImageReader
    from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

    app = QApplication.instance()
    if app is None:
        app = QApplication([APP_ID])
    elif not isinstance(app, QApplication):
        raise CheckFailed("a non-widget Qt application is already running in this process")
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    if "svg" not in formats:
        raise CheckFailed("Qt cannot read SVG images (the svg image-format plugin is missing)")
    icon_path = resource_path(APP_ICON)
    if not icon_path.is_file():
        raise CheckFailed(f"the app icon is missing ({icon_path})")
    if not resource_path(STYLESHEET).is_file():
        raise CheckFailed(f"the stylesheet is missing ({resource_path(STYLESHEET)})")
    icon = QIcon(str(icon_path))
    icon_pixmap = icon.pixmap(64, 64)
    if icon_pixmap.isNull() or _distinct_colors(icon_pixmap.toImage()) < 3:
        raise CheckFailed("the SVG app icon could not be drawn")

    widget = QWidget()
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    widget.setWindowIcon(icon)
    widget.setWindowTitle(f"{APP_NAME} self-check")
    label = QLabel("CoCM Desktop self-check: Ag 0123")
    QVBoxLayout(widget).addWidget(label)
    widget.resize(320, 80)
    try:
        widget.show()
        app.processEvents()
        grabbed = label.grab()
        if grabbed.isNull() or grabbed.width() < 10:
            raise CheckFailed("Qt could not draw a window")
        if _distinct_colors(grabbed.toImage()) < 2:
            raise CheckFailed("Qt drew a window but no text: no usable fonts were found")
    finally:
        widget.close()
        widget.deleteLater()
        app.processEvents()
    return (f"Qt {PySide6.__version__} ({app.platformName()}): window shown and grabbed, "
            "text and SVG icon drawn")


def _distinct_colors(image) -> int:  # type: ignore[no-untyped-def]
    """How many different colours the image holds (stops counting at 3); small images only."""
    seen: set[int] = set()
    for y in range(image.height()):
        for x in range(image.width()):
            seen.add(image.pixel(x, y))
            if len(seen) >= 3:
                return len(seen)
    return len(seen)


CHECKS: list[tuple[str, Callable[[_Clinic], str]]] = [
    ("SQLCipher", _check_sqlcipher),
    ("encryption", _check_encrypted_file),
    ("migrations", _check_migrations),
    ("storage", _check_round_trip),
    ("PDF", _check_pdf),
    ("report fonts", _check_fonts),
    ("password list", _check_password_list),
    ("clinic server driver", _check_server_driver),
    ("program files", _check_modules),
    ("Qt", _check_qt),
]


def run_self_check() -> int:
    """Run every check; one line each on stdout. 0 when all pass, 1 at the first failure."""
    started = time.perf_counter()
    if _wants_offscreen():  # no display: before anything imports QtWidgets or makes the app
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if getattr(sys, "frozen", False):
        kind = "installed bundle"
    elif (Path(cocm_desktop.__file__).resolve().parent / "resources").is_dir():
        kind = "installed package"  # a wheel carries resources/ inside the package
    else:
        kind = "source"
    print(f"{APP_NAME} {__version__} self-check ({kind}, Python {platform.python_version()}, "
          f"{platform.system()} {platform.machine()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="cocm-selfcheck-") as folder:
        clinic = _Clinic(Path(folder))
        try:
            for name, check in CHECKS:
                try:
                    detail = check(clinic)
                except CheckFailed as exc:
                    return _fail(name, str(exc))
                except Exception as exc:  # a self-check reports every fault as one line
                    return _fail(name, f"{type(exc).__name__}: {exc}")
                print(f"ok  {detail}", flush=True)
        finally:
            with contextlib.suppress(Exception):
                clinic.close()
    print(f"Self-check passed in {time.perf_counter() - started:.1f} s.", flush=True)
    return EXIT_OK


def _fail(name: str, message: str) -> int:
    print(f"FAILED  {name}: {message}", file=sys.stderr, flush=True)
    print(f"{APP_NAME} is not installed correctly. Reinstall it, or call your IT support "
          "with the line above.", file=sys.stderr, flush=True)
    return EXIT_FAILED
