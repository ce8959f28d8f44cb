"""Digits as people type them into forms and as protocols send them: ASCII 0–9 only.

`str.isdigit()` also accepts superscripts and other scripts' digits (「²」, 「①」) that `int()`
refuses or reads differently, so an id, a length or a code checked with it could still raise
and answer 500. Every number keiyaku reads from outside goes through here
(`tests/test_ascii_digits.py` checks that no module calls `isdigit` itself).
"""

from __future__ import annotations

__all__ = ["ascii_int", "is_ascii_digits"]


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits 0–9 and nothing else (no sign, no space)."""
    return bool(text) and text.isascii() and text.isdecimal()


def ascii_int(text: str) -> int | None:
    """The value of a string of ASCII digits (see `is_ascii_digits`), or None for anything else."""
    return int(text) if is_ascii_digits(text) else None
