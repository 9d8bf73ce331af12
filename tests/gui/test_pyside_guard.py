"""PySide6 6.12.0 on CPython 3.11 drops a reference to None at every void call; the app must not
abort with "deallocating None" after a few minutes of painting (create_app guards against it)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject
from PySide6.QtGui import QColor, QImage, QPainter

from cocm_desktop.gui.app import create_app, guard_none_refcount


def test_void_calls_cannot_use_up_none(qapp) -> None:  # type: ignore[no-untyped-def]
    create_app()
    image = QImage(40, 40, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):  # the calls a registry repaint makes, many times over
        painter.setPen(QColor("#FFFFFF"))
        painter.drawRect(0, 0, 4, 4)
        probe.setObjectName("")
    painter.end()
    lost_per_call = max(0, before - sys.getrefcount(None)) / 3000
    # a very long day of painting is far below 10^12 void calls
    assert sys.getrefcount(None) > lost_per_call * 10**12


def test_guard_is_idempotent(qapp) -> None:  # type: ignore[no-untyped-def]
    guard_none_refcount()
    level = sys.getrefcount(None)
    guard_none_refcount()
    assert sys.getrefcount(None) < level + (1 << 47)  # not raised a second time
