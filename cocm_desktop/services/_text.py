"""Hidden characters in one-line text (names, MRNs, identifiers), refused the same way everywhere.

Refused: control characters (C0, DEL, C1: NUL, tab, escape, …), format characters (bidi
embeddings/overrides/isolates U+202A–U+202E and U+2066–U+2069, the marks U+200E/U+200F/U+061C,
soft hyphen, byte-order mark, tag characters, …), surrogates, private-use and unassigned code
points, and the Unicode line/paragraph separators. They are invisible on screen and in print, yet
they reorder what is shown (an MRN that reads differently from what is stored), split a line, or
break a search. Every letter, mark and symbol of every script is accepted, and so are the
zero-width joiner and non-joiner, which some names need (Persian, Indic scripts, emoji sequences).
"""

from __future__ import annotations

import unicodedata

from .common import ValidationError

_REFUSED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
_ALLOWED_FORMAT = frozenset(("\u200c", "\u200d"))  # zero-width (non-)joiner: needed to spell some names


def has_hidden_characters(text: str) -> bool:
    """True when `text` holds a character a one-line field must not hold (see the module doc)."""
    return any(unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _ALLOWED_FORMAT for ch in text)


def refuse_hidden_characters(value: str | None, field: str) -> None:
    """ValidationError naming the form field when `value` holds a hidden character (None passes)."""
    if value is not None and has_hidden_characters(value):
        raise ValidationError(f"{field} contains a hidden control character; retype it.")
