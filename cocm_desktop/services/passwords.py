"""Password rules (NIST SP 800-63B, 5.1.1.2): length, a list of common passwords, context words.

- At least MIN_PASSWORD characters, counted as Unicode code points after NFKC normalisation (so
  "ﬀ" and "ff" count alike and a combining accent is not worth a character of its own), at most
  MAX_PASSWORD. No composition rules (no "one digit, one capital"): they make passwords harder to
  remember, not to guess.
- Refused when on the bundled list of common passwords (resources/passwords/, from Django; see
  its LICENSE), or equal to the username or the clinic's name — compared case-insensitively and
  ignoring spaces, so "Maple Street Clinic" and "maplestreetclinic" are both refused.

Each refusal names the rule it broke. The list is read once, on first use.
"""

from __future__ import annotations

import functools
import gzip
import os
import sys
import unicodedata
from pathlib import Path

from .common import ValidationError

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
COMMON_PASSWORDS_FILE = Path("passwords") / "common-passwords.txt.gz"
RULES_SUMMARY = (f"At least {MIN_PASSWORD} characters; a few unrelated words work well. Not a common "
                 "password, the username or the clinic's name.")


class PasswordListMissing(ValidationError):
    """A broken installation: the list of common passwords is not where the app looks for it."""


def _resource_roots() -> list[Path]:
    """$COCM_RESOURCES, a frozen bundle's resources/, the wheel's package copy, the checkout."""
    roots = [Path(env)] if (env := os.environ.get("COCM_RESOURCES")) else []
    if meipass := getattr(sys, "_MEIPASS", None):
        roots.append(Path(meipass) / "resources")
    package = Path(__file__).resolve().parents[1]
    return [*roots, package / "resources", package.parent / "resources"]


def common_passwords_path() -> Path | None:
    for root in _resource_roots():
        if (root / COMMON_PASSWORDS_FILE).is_file():
            return root / COMMON_PASSWORDS_FILE
    return None


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, folded like `_fold` (read once per process)."""
    path = common_passwords_path()
    if path is None:
        raise PasswordListMissing(
            "The list of common passwords is missing from this installation; reinstall CoCM Desktop."
        )
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return frozenset(_fold(line) for line in fh if line.strip())


def normalized(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _fold(text: str) -> str:
    """For comparisons only: NFKC, case-folded, without any white space."""
    return "".join(normalized(text).casefold().split())


def password_problem(password: str, *, username: str, clinic_name: str | None = None,
                     check_list: bool = True) -> str | None:
    """The first rule this password breaks, as a sentence for the person choosing it; else None."""
    length = len(normalized(password))
    if length < MIN_PASSWORD:
        have = "it is empty" if not password else f"this one has {length}"
        return f"A password needs at least {MIN_PASSWORD} characters; {have}."
    if length > MAX_PASSWORD:
        return f"A password can have at most {MAX_PASSWORD} characters."
    folded = _fold(password)
    if folded == _fold(username):
        return "The password cannot be the username."
    if clinic_name and folded == _fold(clinic_name):
        return "The password cannot be the clinic's name."
    if check_list and folded in common_passwords():
        return ("This password is on a list of common passwords that attackers try first; "
                "choose a longer or less usual one (a few unrelated words work well).")
    return None


def check_new_password(password: str, *, username: str, clinic_name: str | None = None) -> None:
    """ValidationError naming the rule a new password breaks."""
    problem = password_problem(password, username=username, clinic_name=clinic_name)
    if problem:
        raise ValidationError(problem)
