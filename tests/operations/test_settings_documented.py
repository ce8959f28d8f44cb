"""Every setting keiyaku reads is a row of the settings table in docs/operations.md (issue 11:
"docs/operations.md: every KEIYAKU_* setting"), under its full name, so an operator who searches
the guide for a variable seen in a unit file finds it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operations.md"

# settings.py reads KEIYAKU_<NAME> through env(), env_bool(), env_int() … ("NAME", …); code
# elsewhere through os.environ["KEIYAKU_…"] or os.environ.get("KEIYAKU_…").
_SETTINGS_READ = re.compile(r'\benv(?:_[a-z]+)?\(\s*"([A-Z0-9_]+)"')
# Numbered settings, one per item of a list (KEIYAKU_TSA_<n>_USERNAME): env(f"TSA_{n}_…").
_NUMBERED_READ = re.compile(r'\benv(?:_[a-z]+)?\(\s*f"([A-Z0-9_]*)\{[a-z_]+\}([A-Z0-9_]*)"')
_ENVIRON_READ = re.compile(r'environ(?:\.get\(|\[)\s*"(KEIYAKU_[A-Z0-9_]+)"')
_TABLE_ROW = re.compile(r"^\| (`KEIYAKU_[^|]*) \|", re.M)


def read_settings() -> set[str]:
    names = {
        f"KEIYAKU_{name}"
        for name in _SETTINGS_READ.findall((ROOT / "keiyaku" / "settings.py").read_text())
    }
    names |= {
        f"KEIYAKU_{before}<n>{after}"
        for before, after in _NUMBERED_READ.findall((ROOT / "keiyaku" / "settings.py").read_text())
    }
    for path in (ROOT / "keiyaku").rglob("*.py"):
        names |= set(_ENVIRON_READ.findall(path.read_text()))
    return names


def documented_settings() -> set[str]:
    text = GUIDE.read_text()
    return {
        name
        for cell in _TABLE_ROW.findall(text)
        for name in re.findall(r"`(KEIYAKU_[A-Z0-9_]+(?:<n>[A-Z0-9_]*)?)`", cell)
    }


def test_the_reading_finds_the_settings_it_should() -> None:
    names = read_settings()
    assert {"KEIYAKU_DATABASE_URL", "KEIYAKU_MAX_FILE_MB", "KEIYAKU_LOG_FORMAT"} <= names
    assert len(names) > 60


def test_every_setting_keiyaku_reads_has_a_row_in_the_operations_guide() -> None:
    missing = read_settings() - documented_settings()
    assert not missing, f"settings without a row in docs/operations.md: {sorted(missing)}"


def test_every_row_of_the_settings_table_is_a_setting_keiyaku_reads() -> None:
    stale = documented_settings() - read_settings()
    assert not stale, f"docs/operations.md documents settings nobody reads: {sorted(stale)}"
