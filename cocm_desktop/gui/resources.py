"""Where the stylesheet and icons live, and how icons are tinted.

Looked up, in order: $COCM_RESOURCES, a frozen app's bundle (`sys._MEIPASS/resources`), the
package's own `cocm_desktop/resources` (wheel installs) and the source tree's `resources/`.
Icons are single-colour SVGs drawn with `currentColor`; `icon()` tints them on load so one file
serves the light panes and the dark navigation rail.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap

TEXT = "#243B53"
MUTED = "#627D98"
ACCENT = "#1F6F8B"
ON_DARK = "#D9E2EC"
SAFETY = "#C62828"


def _candidates() -> list[Path]:
    found: list[Path] = []
    env = os.environ.get("COCM_RESOURCES")
    if env:
        found.append(Path(env))
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        found.append(Path(meipass) / "resources")
    package = Path(__file__).resolve().parents[1]
    found.append(package / "resources")
    found.append(package.parent / "resources")
    return found


@functools.cache
def resources_dir() -> Path | None:
    for path in _candidates():
        if (path / "style.qss").is_file():
            return path
    return None


def resource(*parts: str) -> Path | None:
    base = resources_dir()
    if base is None:
        return None
    path = base.joinpath(*parts)
    return path if path.exists() else None


def stylesheet() -> str:
    path = resource("style.qss")
    return path.read_text(encoding="utf-8") if path else ""


@functools.cache
def _svg_text(name: str) -> str | None:
    path = resource("icons", f"{name}.svg")
    return path.read_text(encoding="utf-8") if path else None


@functools.cache
def icon(name: str, color: str = TEXT, size: int = 24) -> QIcon:
    """A tinted icon; an empty QIcon when the file is missing (never an error at run time)."""
    from PySide6.QtSvg import QSvgRenderer

    text = _svg_text(name)
    if text is None:
        return QIcon()
    renderer = QSvgRenderer(QByteArray(text.replace("currentColor", color).encode("utf-8")))
    result = QIcon()
    for scale in (1, 2):
        pixmap = QPixmap(QSize(size * scale, size * scale))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size * scale, size * scale))
        painter.end()
        pixmap.setDevicePixelRatio(scale)
        result.addPixmap(pixmap)
    return result


def app_icon() -> QIcon:
    path = resource("icons", "cocm-desktop.svg")
    if path is not None:
        return QIcon(str(path))
    return icon("shield", ACCENT, 64)
