"""Digits as people type them into forms and as protocols send them: ASCII 0–9 only.

`str.isdigit()` also accepts superscripts and other scripts' digits (「²」, 「①」) that `int()`
refuses or reads differently, so an id, a length or a code checked with it could still raise
and answer 500. Every number keiyaku reads from outside goes through here
(`tests/test_ascii_digits.py` checks that no module calls `isdigit` itself).
"""

from __future__ import annotations

import unicodedata

__all__ = ["ascii_int", "is_ascii_digits", "yen_int"]


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits 0–9 and nothing else (no sign, no space)."""
    return bool(text) and text.isascii() and text.isdecimal()


def ascii_int(text: str) -> int | None:
    """The value of a string of ASCII digits (see `is_ascii_digits`), or None for anything else."""
    return int(text) if is_ascii_digits(text) else None


def yen_int(text: str) -> int | None:
    """An amount of yen as staff type it, in a form or an Excel cell: 「1,000,000」,
    「１，０００，０００円」 (NFKC, thousands separators and 円 ignored) → 1000000. None for
    anything else, a sign, a decimal point or more than 100 characters included (how large an
    amount may be is the service's rule: `drafting.MAX_AMOUNT`); the caller says "empty" and
    "not an amount" apart (``text.strip()``)."""
    plain = unicodedata.normalize("NFKC", text).replace(",", "").replace("円", "").strip()
    return ascii_int(plain) if len(plain) <= 100 else None
