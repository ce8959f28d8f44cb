"""Numbers read from outside are ASCII digits: never a superscript that int() refuses (a 500)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keiyaku.ascii_digits import ascii_int, is_ascii_digits

KEIYAKU = Path(__file__).resolve().parent.parent / "keiyaku"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        ("", None),
        ("²", None),
        ("①", None),
        ("٣", None),
        ("４２", None),
        ("-1", None),
        (" 1", None),
        ("1.0", None),
        ("1e3", None),
    ],
)
def test_only_ascii_digits_are_numbers(text, value):
    assert ascii_int(text) == value
    assert is_ascii_digits(text) is (value is not None)


def test_no_module_checks_digits_with_isdigit():
    """str.isdigit() accepts 「²」, which int() refuses, and isdecimal() 「٣」: use
    keiyaku.ascii_digits, which takes 0–9 only."""
    found = [
        f"{path.relative_to(KEIYAKU.parent)}:{number}"
        for path in sorted(KEIYAKU.rglob("*.py"))
        if path.name != "ascii_digits.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"\.is(digit|numeric|decimal)\(\)", line)
    ]
    assert not found, found


def test_yen_as_typed():
    from keiyaku.ascii_digits import yen_int

    assert yen_int("1,000,000") == yen_int("１，０００，０００円") == yen_int(" 1000000 ") == 10**6
    for bad in ("-1", "1.5", "百万", "500万", "", "1" * 101):
        assert yen_int(bad) is None, bad
    assert yen_int("1" * 21) == int("1" * 21)  # too large is the service's to say
