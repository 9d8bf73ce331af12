"""Errors become plain dialogs: expected refusals are shown as they are, bugs as a generic
message, and the log never carries the exception's text (it could hold patient details)."""

from __future__ import annotations

import logging

import pytest

from cocm_desktop.domain.case_review import RecommendationError
from cocm_desktop.domain.roles import Permission, PermissionDenied, Role
from cocm_desktop.gui.errors import GENERIC_MESSAGE, describe, is_expected, log_without_phi
from cocm_desktop.services.common import NotFound, ValidationError
from cocm_desktop.store.errors import DiskFull, WrongCredentials


@pytest.mark.parametrize(("exc", "title"), [
    (ValidationError("Contact: the next step is missing."), "Not saved"),
    (RecommendationError("Say what was modified."), "Not saved"),
    (PermissionDenied(Role.CARE_MANAGER, Permission.DECIDE_RECOMMENDATION), "Not allowed"),
    (WrongCredentials(), "Sign-in failed"),
    (DiskFull(), "Cannot save"),
    (NotFound("That referral no longer exists."), "Not found"),
])
def test_expected_errors_keep_their_message(exc, title) -> None:  # type: ignore[no-untyped-def]
    assert is_expected(exc)
    assert describe(exc) == (title, str(exc))


def test_unexpected_error_is_generic_and_logged_without_its_text(caplog) -> None:  # type: ignore[no-untyped-def]
    try:
        raise KeyError("Holloway, Omar D100009")
    except KeyError as exc:
        assert not is_expected(exc)
        assert describe(exc)[1] == GENERIC_MESSAGE
        with caplog.at_level(logging.ERROR, logger="cocm_desktop.gui"):
            log_without_phi(exc)
    assert "KeyError" in caplog.text and "test_errors.py" in caplog.text
    assert "Holloway" not in caplog.text and "D100009" not in caplog.text
