"""Pieces the clinic-lead and account dialogs share: the screen heading and the password-pair check."""


from typing import Any

from PySide6.QtWidgets import (
    QLabel,
    QWidget,
)


def heading(text: str, parent: QWidget, role: str = "title") -> QLabel:
    label = QLabel(text, parent)
    label.setProperty("role", role)
    return label


class PasswordsMatch:
    """Checks two password fields agree before the service is asked (the service checks the rest)."""

    @staticmethod
    def check(v: dict[str, Any], first: str = "password", second: str = "password_again") -> str:
        from cocm_desktop.gui.form_dialog import FieldError

        if v.get(first) != v.get(second):
            raise FieldError(second, "The two passwords are not the same; type them again.")
        return v[first]
