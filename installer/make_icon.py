"""Render the SVG app icon to a multi-size Windows .ico (for the .exe and the setup program).

Qt draws the SVG (the same renderer the app uses), Pillow writes the .ico with every size
Windows asks for, so the icon is sharp in Explorer, the taskbar and the Start menu.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 256)


def render_png(svg: Path, size: int) -> bytes:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def svg_to_ico(svg: Path, ico: Path, sizes: tuple[int, ...] = ICO_SIZES) -> Path:
    from PIL import Image

    # Pillow scales one large image down for each size; render each size natively instead so
    # small sizes stay crisp, and hand Pillow the images it should use.
    images = [Image.open(io.BytesIO(render_png(svg, size))).convert("RGBA") for size in sizes]
    largest = images[-1]
    ico.parent.mkdir(parents=True, exist_ok=True)
    largest.save(ico, format="ICO", sizes=[(s, s) for s in sizes], append_images=images[:-1])
    return ico


if __name__ == "__main__":
    print(svg_to_ico(Path(sys.argv[1]), Path(sys.argv[2])))
