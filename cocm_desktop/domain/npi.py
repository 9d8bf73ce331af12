"""National Provider Identifier: 10 digits, the last a Luhn check digit computed over the card
issuer prefix 80840 followed by the first nine digits (CMS, "NPI check digit").

Pure: no Qt, no SQL, no I/O.
"""

from __future__ import annotations

__all__ = ["check_digit", "is_valid", "problem"]

_PREFIX = "80840"


def check_digit(first_nine: str) -> int:
    """The Luhn check digit of an NPI's first nine digits."""
    if len(first_nine) != 9 or not (first_nine.isascii() and first_nine.isdigit()):
        raise ValueError("an NPI's first part is nine digits")
    total = 0
    # Luhn from the right of the payload (prefix + nine digits): every second digit, starting with
    # the rightmost, is doubled.
    for n, ch in enumerate(reversed(_PREFIX + first_nine)):
        d = int(ch)
        if n % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def problem(npi: str) -> str | None:
    """One sentence saying why `npi` is not an NPI, or None when it is one."""
    if len(npi) != 10 or not (npi.isascii() and npi.isdigit()):
        return "An NPI is exactly 10 digits."
    if check_digit(npi[:9]) != int(npi[9]):
        return f"NPI {npi}: the last digit is not its check digit; check the number for a typing error."
    return None


def is_valid(npi: str) -> bool:
    return problem(npi) is None
